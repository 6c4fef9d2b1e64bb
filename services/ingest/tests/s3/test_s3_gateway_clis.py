"""The AWS CLI, rclone and s3cmd against the real gateway, as users run them."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tusk_stack import ACCESS_KEY, SECRET_KEY, GatewayThread, unique

pytestmark = pytest.mark.xdist_group("s3-gateway-clis")
AWS = Path(sys.executable).with_name("aws")


def run(args: list[str], env: dict[str, str], *, cwd: Path | None = None) -> str:
    res = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, f"{args[:3]} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}"
    return res.stdout


def tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


FILES = {
    "a.csv": b"x,y\n1,2\n",
    "sub/b.json": b'{"b": 1}',
    "sub/deeper/c d.txt": "spaces and ünïcode".encode(),
    "sub-x/e.bin": os.urandom(9 * 1024 * 1024),  # above the CLI's multipart threshold
    "empty.txt": b"",
}


def test_aws_cli_cp_sync_ls_and_rm_recursive(tusk_gateway: GatewayThread, tmp_path: Path) -> None:
    if not AWS.exists():
        pytest.skip("the AWS CLI is not installed (pip install awscli: it is in the test extras)")
    env = tusk_gateway.env()
    aws = [str(AWS), "--endpoint-url", tusk_gateway.url, "s3"]
    repo = unique()
    run([*aws, "mb", f"s3://{repo}"], env)
    src = tree(tmp_path / "src", FILES)
    run([*aws, "cp", str(src / "a.csv"), f"s3://{repo}/one/a.csv"], env)
    run([*aws, "sync", str(src), f"s3://master.{repo}/data"], env)
    listing = run([*aws, "ls", "--recursive", f"s3://{repo}/data/"], env)
    assert sorted(line.split(None, 3)[3] for line in listing.splitlines()) == sorted(f"data/{k}" for k in FILES)
    top = run([*aws, "ls", f"s3://{repo}/"], env)
    assert "PRE data/" in top and "PRE one/" in top
    # a second sync changes nothing: no upload, no commit
    head = tusk_gateway.run(tusk_gateway.versioning.inspect_branch(repo, "master")).head
    assert "upload:" not in run([*aws, "sync", str(src), f"s3://{repo}/data"], env)
    assert tusk_gateway.run(tusk_gateway.versioning.inspect_branch(repo, "master")).head == head
    back = tmp_path / "back"
    run([*aws, "sync", f"s3://{repo}/data", str(back)], env)
    assert digests(back) == digests(src)
    run([*aws, "cp", f"s3://{repo}/data/sub/deeper/c d.txt", str(tmp_path / "c.txt")], env)
    assert (tmp_path / "c.txt").read_bytes() == FILES["sub/deeper/c d.txt"]
    run([*aws, "rm", "--recursive", f"s3://{repo}/data/"], env)
    assert run([*aws, "ls", "--recursive", f"s3://{repo}/"], env).split()[-1] == "one/a.csv"


@pytest.mark.skipif(shutil.which("rclone") is None, reason="rclone is not installed (Debian: rclone)")
def test_rclone_copy_ls_check_and_purge(tusk_gateway: GatewayThread, tmp_path: Path) -> None:
    env = tusk_gateway.env()
    env.update({
        "RCLONE_CONFIG_TUSK_TYPE": "s3", "RCLONE_CONFIG_TUSK_PROVIDER": "Other",
        "RCLONE_CONFIG_TUSK_ENDPOINT": tusk_gateway.url, "RCLONE_CONFIG_TUSK_ACCESS_KEY_ID": ACCESS_KEY,
        "RCLONE_CONFIG_TUSK_SECRET_ACCESS_KEY": SECRET_KEY, "RCLONE_CONFIG_TUSK_FORCE_PATH_STYLE": "true",
        "RCLONE_CONFIG": str(tmp_path / "rclone.conf"),
    })
    repo = unique()
    src = tree(tmp_path / "src", FILES)
    run(["rclone", "mkdir", f"tusk:{repo}"], env)
    run(["rclone", "copy", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M", str(src), f"tusk:{repo}/in"], env)
    assert sorted(run(["rclone", "lsf", "-R", "--files-only", f"tusk:{repo}/in"], env).split("\n")[:-1]) == \
        sorted(FILES)
    run(["rclone", "check", str(src), f"tusk:{repo}/in"], env)  # sizes and hashes match
    back = tmp_path / "back"
    run(["rclone", "copy", f"tusk:{repo}/in", str(back)], env)
    assert digests(back) == digests(src)
    run(["rclone", "purge", f"tusk:{repo}/in"], env)
    assert run(["rclone", "lsf", "-R", f"tusk:{repo}"], env).strip() == ""


@pytest.mark.skipif(shutil.which("s3cmd") is None, reason="s3cmd is not installed (Debian: s3cmd)")
def test_s3cmd_put_get_ls_sync_and_del(tusk_gateway: GatewayThread, tmp_path: Path) -> None:
    host = tusk_gateway.url.removeprefix("http://")
    config = tmp_path / "s3cfg"
    config.write_text(
        f"[default]\naccess_key = {ACCESS_KEY}\nsecret_key = {SECRET_KEY}\nhost_base = {host}\n"
        f"host_bucket = {host}\nuse_https = False\nbucket_location = us-east-1\nsignature_v2 = False\n"
    )
    s3cmd = ["s3cmd", "-c", str(config), "--no-progress"]
    env = tusk_gateway.env()
    repo = unique()
    run([*s3cmd, "mb", f"s3://{repo}"], env)
    src = tree(tmp_path / "src", FILES)
    run([*s3cmd, "put", str(src / "a.csv"), f"s3://{repo}/a.csv"], env)
    run([*s3cmd, "get", f"s3://{repo}/a.csv", str(tmp_path / "a.csv")], env)
    assert (tmp_path / "a.csv").read_bytes() == FILES["a.csv"]
    run([*s3cmd, "sync", "--multipart-chunk-size-mb=5", f"{src}/", f"s3://{repo}/tree/"], env)
    listed = run([*s3cmd, "ls", "--recursive", f"s3://{repo}/tree/"], env)
    assert sorted(line.split(None, 3)[3] for line in listed.splitlines()) == \
        sorted(f"s3://{repo}/tree/{k}" for k in FILES)
    run([*s3cmd, "del", "--recursive", "--force", f"s3://{repo}/tree/"], env)
    assert run([*s3cmd, "ls", "--recursive", f"s3://{repo}/"], env).split()[-1] == f"s3://{repo}/a.csv"
