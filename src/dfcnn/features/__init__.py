"""CNN features (SPEC §2.1-2.3): backbones, aggregators, PCA-whitening, the describer, Lightning.

- ``backbones``: networks tapped at their last conv map, with offline weights.
- ``regions``: the R-MAC grid; ``functional``: one function per aggregator equation;
  ``pooling``: their ``nn.Module`` shells; ``whitening``: the PCA-whitening estimator.
- ``images``: pre-processing and the record dataset; ``model``: the descriptor network.
- ``describer``: ``CnnDescriber`` (the describer protocol); ``lightning``: extraction at scale.
"""
