"""Data: the TFRecord schema and writer, the tf.data pipelines, on-device augmentation and the
synthetic dataset generator."""
