"""Table I: the experimental environment, ours measured beside the paper's."""

from __future__ import annotations

from dfcnn.experiments.paper_numbers import TABLE1
from dfcnn.tracking.environment import capture_environment

ROWS = (("CPU", "cpu"), ("GPU", "gpu"), ("RAM (GB)", "ram_gb"), ("Operating system", "os"),
        ("Python", "python"))


def table1_markdown(env: dict[str, str] | None = None) -> str:
    env = env or capture_environment()
    lines = ["| item | paper | this run |", "|---|---|---|"]
    for title, key in ROWS:
        lines.append(f"| {title} | {TABLE1.get(key, '—')} | {env.get(key, '—')} |")
    lines.append(f"| CPU cores (logical) | — | {env.get('cpu_cores_logical', '—')} |")
    lines.append(f"| torch threads | — | {env.get('torch_threads', '—')} |")
    lines.append(f"| Deep-learning framework | {TABLE1['framework']} | PyTorch {env.get('pkg.torch', '?')}, "
                 f"Lightning {env.get('pkg.pytorch-lightning', '?')} |")
    libs = ", ".join(f"{k[4:]} {v}" for k, v in env.items() if k.startswith("pkg.") and k[4:] not in ("torch",))
    lines.append(f"| Other software | {TABLE1['other']} | {libs} |")
    return "\n".join(lines) + "\n"
