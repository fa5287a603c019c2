"""Capture the machine a run used: the rows of the paper's Table I, measured instead of quoted."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess

KEY_PACKAGES = (
    "torch", "torchvision", "pytorch-lightning", "hydra-core", "mlflow", "xgboost",
    "scikit-learn", "opencv-contrib-python", "numpy", "pillow", "mahotas", "faiss-cpu",
)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_name() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            return ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
    except Exception:  # torch missing or broken CUDA: report no GPU rather than fail a run
        pass
    return "none"


def package_versions() -> dict[str, str]:
    versions = {}
    for name in KEY_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def capture_environment() -> dict[str, str]:
    """Return the environment as flat strings (Table I: CPU, GPU, RAM, OS, language, libraries)."""
    import psutil

    env = {
        "cpu": cpu_model(),
        "cpu_cores_logical": str(os.cpu_count() or 0),
        "cpu_cores_physical": str(psutil.cpu_count(logical=False) or 0),
        "ram_gb": f"{psutil.virtual_memory().total / 2**30:.1f}",
        "gpu": gpu_name(),
        "os": f"{platform.system()} {platform.release()} ({platform.platform()})",
        "python": platform.python_version(),
    }
    try:
        import torch

        env["torch_threads"] = str(torch.get_num_threads())
    except ImportError:
        pass
    env.update({f"pkg.{k}": v for k, v in package_versions().items()})
    return env


def git_state(cwd: str | None = None) -> dict[str, str]:
    """Commit hash and dirty flag of the checkout the code runs from (empty outside git)."""
    cwd = cwd or os.path.dirname(os.path.abspath(__file__))
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5)
        if commit.returncode != 0:
            return {}
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                                capture_output=True, text=True, timeout=10)
        return {"git_commit": commit.stdout.strip(), "git_dirty": str(bool(status.stdout.strip())).lower()}
    except (OSError, subprocess.SubprocessError):
        return {}
