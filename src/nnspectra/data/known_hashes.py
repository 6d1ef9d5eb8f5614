"""Known digests of the official MNIST and CIFAR-10 content, checked by :mod:`nnspectra.data.vision`.

CIFAR-10: per batch file, sha256 of the DECODED arrays — ``data`` as uint8 (10000, 3072) in C order and
``labels`` as little-endian int64 (10000,) — so an original batch and a re-packed copy with the same
pixels, labels and order (no ``filenames`` key) give the same digests. Computed with
:func:`nnspectra.data.vision.cifar_batch_digests` from the verified copy described in
``shared/data/README.md`` (pixels, labels and order equal to the official batches).

MNIST: sha256 of the four uncompressed IDX files; these files are bit-identical to the originals (their
md5 equal the published md5, listed beside them).
"""

from __future__ import annotations

CIFAR10_ROWS_PER_BATCH = 10000

# file name -> (sha256 of data uint8 bytes, sha256 of labels as <i8 bytes)
CIFAR10_DECODED_SHA256: dict[str, tuple[str, str]] = {
    "data_batch_1": ("a50e8b48728e1667d682a807155c375279d5ae321fb12242c02e3104a6bc8b21",
                     "66145c918fed3a0358c4001da734fbc15cb584ddf34c823fa524e6b9c81542b7"),
    "data_batch_2": ("0b825e5592c3b72ea18d6ec2ff5f5b19d33e41a75f5039054a9bb87be3cf69a0",
                     "1074c604720c88e1f4d8408e1995944e9bc65877af3e8c5503da69209d57286b"),
    "data_batch_3": ("c6ee1dd4601a69ec085d8ebf53ee6441775491a6839a0a9ae8fa198e88a3a429",
                     "fe1021a9820682f7eb5cc7f65ff3d015d8a33876df6dd7787404f0fa8cf5937f"),
    "data_batch_4": ("1f6b6c799cff375a9f8fae2fac909d51ee09f38a6a60eebb9e8fec6f47ddc48f",
                     "1599745ad42ec41be72e2f3f716b65bac89321693690656a125b1ea3ca3feeea"),
    "data_batch_5": ("58e3bbf713e28357476a351d3a05d056372f94c681d04ca9d62a076fdf2a643b",
                     "a3a7f0cf6cafd5b2d4610fd467bd87987a0a9ff93958b860a567c925a00ad56d"),
    "test_batch": ("177777c33ba79825320efa646ad04a94bdc3c80e4ebe3bd21724f8cdfd4b9d56",
                   "cbb7365de8ed11f05cc4c3a1e7f78144127c5e851efd83762fb18202461230bb"),
}

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

# file name -> (number of items, sha256 of the file); md5 (published): 6bbc9ace898e44ae57da46a324031adb,
# a25bea736e30d166cdddb491f175f624, 2646ac647ad5339dbf082846283269ea, 27ae3e4e09519cfbb04c329615203637.
MNIST_FILE_SHA256: dict[str, tuple[int, str]] = {
    "train-images-idx3-ubyte": (60000, "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    "train-labels-idx1-ubyte": (60000, "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    "t10k-images-idx3-ubyte": (10000, "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    "t10k-labels-idx1-ubyte": (10000, "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
}
