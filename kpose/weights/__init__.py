"""Model weights: the torch-free MMPose checkpoint reader, the Keras <-> MMPose state-dict
name mapping, and loading weights into a model."""
