"""Data: dataset metadata (``metainfo``), annotation readers and converters per format
(``formats``), the TFRecord schema and shard I/O (``records``), the synthetic dataset
(``synthetic``), the training augmentation (``augment``) and the tf.data pipelines that compose
them (``pipeline``)."""
