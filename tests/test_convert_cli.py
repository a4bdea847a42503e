"""``python -m kpose.convert``: every subcommand converts and prints its summary; errors are
messages, not tracebacks."""

from __future__ import annotations

from kpose.convert import main


def test_cli_prints_summary(samples, tmp_path, capsys):
    code = main(
        [
            "coco",
            "--annotations",
            str(samples / "coco/test_coco.json"),
            "--images",
            str(samples / "coco"),
            "--out",
            str(tmp_path),
            "--shards",
            "2",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "train: 4 images, 14 instances in 2 shards" in out
    assert (
        main(
            [
                "coco",
                "--annotations",
                str(tmp_path / "nope.json"),
                "--images",
                str(samples / "coco"),
                "--out",
                str(tmp_path),
            ]
        )
        == 2
    )
    assert "nope.json: annotation file not found" in capsys.readouterr().err


def test_cli_subcommands(samples, tmp_path, capsys):
    assert (
        main(
            [
                "mpii",
                "--annotations",
                str(samples / "mpii/test_mpii.json"),
                "--images",
                str(samples / "mpii"),
                "--out",
                str(tmp_path / "m"),
                "--split",
                "val",
            ]
        )
        == 0
    )
    assert "val: 5 images, 5 instances" in capsys.readouterr().out
    assert (
        main(
            [
                "jhmdb",
                "--annotations",
                str(samples / "jhmdb/test_jhmdb_sub1.json"),
                "--images",
                str(samples / "jhmdb"),
                "--out",
                str(tmp_path / "j"),
            ]
        )
        == 0
    )
    assert "train: 3 images, 3 instances" in capsys.readouterr().out
