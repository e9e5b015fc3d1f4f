"""The competition's reference functions, verbatim in behaviour, shared by the fixture and
cross-check scripts: OpenCV polygon filling, numpy RLE and the baseline's dice."""

import cv2
import numpy as np

CLASSES = [f"finger-{i}" for i in range(1, 20)] + [
    "Trapezium", "Trapezoid", "Capitate", "Hamate", "Scaphoid",
    "Lunate", "Triquetrum", "Pisiform", "Radius", "Ulna",
]


def fill_poly(height, width, points):
    """What the baseline's dataset did per annotation: cv2.fillPoly(class_label, [points], 1)."""
    canvas = np.zeros((height, width), dtype=np.uint8)
    cv2.fillPoly(canvas, [np.array(points, dtype=np.int32)], 1)
    return canvas


def encode_mask_to_rle(mask):
    pixels = mask.flatten()
    pixels = np.concatenate([[0], pixels, [0]])
    runs = np.where(pixels[1:] != pixels[:-1])[0] + 1
    runs[1::2] -= runs[::2]
    return " ".join(str(x) for x in runs)


def decode_rle_to_mask(rle, height, width):
    s = rle.split()
    starts, lengths = [np.asarray(x, dtype=int) for x in (s[0:][::2], s[1:][::2])]
    starts -= 1
    ends = starts + lengths
    img = np.zeros(height * width, dtype=np.uint8)
    for lo, hi in zip(starts, ends):
        img[lo:hi] = 1
    return img.reshape(height, width)


def dice(pred, truth, eps=0.0001, dtype=np.float64):
    """The baseline's dice_coef for one image and class: (2|P∩G| + eps) / (|P| + |G| + eps)."""
    p = pred.astype(dtype).ravel()
    g = truth.astype(dtype).ravel()
    intersection = np.sum(p * g, dtype=dtype)
    return (dtype(2.0) * intersection + dtype(eps)) / (np.sum(p, dtype=dtype) + np.sum(g, dtype=dtype) + dtype(eps))


def mask_to_hex(mask):
    """Row-major bits, MSB first in each byte (np.packbits), as hex: an encoding independent of RLE."""
    return np.packbits(mask.astype(np.uint8).ravel()).tobytes().hex()
