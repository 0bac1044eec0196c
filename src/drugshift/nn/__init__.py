"""Neural-network building blocks and losses shared by the models."""

from drugshift.nn.blocks import (
    Decoder,
    DenoisingAutoencoder,
    Encoder,
    Predictor,
    binomial_mask,
    mlp,
)
from drugshift.nn.losses import (
    DEFAULT_BANDWIDTH_SCALES,
    REFERENCE_BANDWIDTHS,
    cluster_similarity_loss,
    gaussian_mmd,
    median_bandwidth,
)

__all__ = [
    "DEFAULT_BANDWIDTH_SCALES",
    "REFERENCE_BANDWIDTHS",
    "Decoder",
    "DenoisingAutoencoder",
    "Encoder",
    "Predictor",
    "binomial_mask",
    "cluster_similarity_loss",
    "gaussian_mmd",
    "median_bandwidth",
    "mlp",
]
