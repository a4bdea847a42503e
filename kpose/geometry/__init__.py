"""Box and affine-warp geometry of top-down pose estimation, in MMPose's conventions.

Coordinates are pixel indices in (x, y) order (pixel centres at integers, as OpenCV's
``warpAffine`` uses them); sizes are (w, h). A box is summarised as a centre and a "scale", the
(w, h) of the region the crop covers; a warp matrix is a (2, 3) image -> crop affine. The
modules are split by kind, and the module says the kind: names carry no numpy/TF suffix, so
import the module and call through it (``affine.get_warp_matrix``,
``reference.get_warp_matrix``, ``cv2_exact.get_warp_matrix`` are the same warp in three
kinds). ``boxes``: box conversions (numpy arrays in, numpy out; tensors in, tensors out).
``affine``: batched TensorFlow float32 warp matrices, point transforms and the gather warp of
the training step (XLA-compatible). ``reference``: MMPose's functions exactly, one box at a
time in NumPy + OpenCV (``cv2.getAffineTransform``, ``cv2.warpAffine``); validation crops and
the tests' ground truth. ``cv2_exact``: OpenCV's own arithmetic (float64 LU solve, fixed-point
bilinear warp) redone in batched TensorFlow ops, so inference and serving crop bit for bit as
``reference`` does without OpenCV.
"""
