"""Transformer-XL forecaster parts: the token grid, the network, memory/streams, training."""

from .config import TXLConfig
from .grid import TokenGrid
from .memory import Memory, Stream, StreamState, advance
from .module import TXLModule
from .net import TXLNet

__all__ = ["Memory", "Stream", "StreamState", "TXLConfig", "TXLModule", "TXLNet", "TokenGrid",
           "advance"]
