"""microdeploy: deploy quantized TFLite models to microcontrollers."""

__version__ = "0.1.0"
