"""Atomic writes (tinyvision/_files.py) as checkpoints, data files and pictures use them."""
import os

import numpy as np
import pytest

import tinyvision as tv
from tinyvision._files import _umask, atomic_writer
from tinyvision.data._io import atomic_write
from tinyvision.viz.image import save_png


@pytest.mark.parametrize("write", [
    lambda p: tv.save({"w": np.ones(3)}, p),
    lambda p: atomic_write(p, "text"),
    lambda p: save_png(np.zeros((4, 4, 3), np.uint8), p)])
def test_new_files_get_the_umask_permissions_and_no_temporary_is_left(tmp_path, write):
    path = tmp_path / "out.bin"
    write(path)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~_umask()    # not mkstemp's private 0600
    assert os.listdir(tmp_path) == ["out.bin"]


def test_an_error_while_writing_keeps_the_old_file(tmp_path):
    path = tmp_path / "keep.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_writer(path, "test") as f:
            f.write(b"half")
            raise RuntimeError("boom")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["keep.txt"]


def test_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="save: the folder .* does not exist"):
        tv.save({"w": np.ones(1)}, tmp_path / "nope" / "w.npz")
