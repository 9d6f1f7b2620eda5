"""`anfang-checkpoint`: the auditor's signing command, run on the auditor's own machine.

    anfang-checkpoint keygen --out auditor.key          # once: the private key (0600), prints the public key
    anfang-checkpoint sign head.json --key auditor.key --out checkpoint.json
    anfang-checkpoint verify checkpoint.json [--public-key KEY]
    anfang-checkpoint pubkey --key auditor.key

Bad input ends with one Chinese line on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from .format import (
    CheckpointError,
    fingerprint,
    load_private_key,
    new_private_key,
    normalise_public_key,
    private_key_pem,
    public_key_text,
    read_checkpoint,
    read_head,
    sign_head,
)


class Failed(Exception):
    """One line for the auditor; exit status 1."""


class ChineseHelpFormatter(argparse.HelpFormatter):
    def add_usage(self, usage, actions, groups, prefix=None):
        # argparse asks for the bare usage (prefix "") to name a subcommand's program: keep that.
        return super().add_usage(usage, actions, groups, prefix="用法：" if prefix is None else prefix)


class Parser(argparse.ArgumentParser):
    """argparse, speaking Chinese: its own words (usage, errors, headings) replaced."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", ChineseHelpFormatter)
        kwargs["add_help"] = False
        super().__init__(*args, **kwargs)
        self._positionals.title = "参数"
        self._optionals.title = "选项"
        self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS, help="显示本帮助并退出。")

    def error(self, message):
        self.exit(2, f"错误：{_argparse_message(message)}。运行 {self.prog} --help 查看用法。\n")


# argparse's own error sentences, in Chinese; any other is summed up without its English.
ARGPARSE_MESSAGES = (
    (re.compile(r"^the following arguments are required: (.+)$"), "缺少参数：{0}"),
    (re.compile(r"^unrecognized arguments: (.+)$"), "无法识别的参数：{0}"),
    (re.compile(r"^argument (\S+): invalid choice: '([^']*)'"), "未知的命令：{1}"),
    (re.compile(r"^argument (\S+): expected one argument$"), "选项 {0} 缺少取值"),
)


def _argparse_message(message: str) -> str:
    for pattern, text in ARGPARSE_MESSAGES:
        match = pattern.match(message)
        if match:
            return text.format(*match.groups())
    return "命令行参数不正确"


def build_parser() -> Parser:
    parser = Parser(prog="anfang-checkpoint",
                    description="对 anfang 审计链头签名（在审计人员自己的电脑上运行，私钥不离开本机）。")
    commands = parser.add_subparsers(dest="command", title="命令", metavar="命令", parser_class=Parser)
    commands.required = True

    keygen = commands.add_parser("keygen", help="生成签名私钥（仅本人可读）并显示公钥。",
                                 description="生成 Ed25519 签名私钥，写入文件（权限 0600，不覆盖已有文件），并显示公钥。")
    keygen.add_argument("--out", required=True, type=Path, help="私钥文件路径。")

    sign = commands.add_parser("sign", help="对服务器导出的审计链头签名。",
                               description="对 anfang audit checkpoint 导出的审计链头文件签名，输出已签名的检查点。")
    sign.add_argument("head", type=Path, metavar="链头文件", help="anfang audit checkpoint 导出的 JSON 文件。")
    sign.add_argument("--key", required=True, type=Path, help="私钥文件路径。")
    sign.add_argument("--out", type=Path, help="检查点输出文件（不覆盖已有文件）；省略时输出到标准输出。")

    verify = commands.add_parser("verify", help="核对已签名检查点的签名。",
                                 description="核对已签名检查点的签名，并可核对签名公钥是否为指定公钥。")
    verify.add_argument("checkpoint", type=Path, metavar="检查点文件")
    verify.add_argument("--public-key", help="应当签名的公钥（base64）。")

    pubkey = commands.add_parser("pubkey", help="显示私钥对应的公钥。")
    pubkey.add_argument("--key", required=True, type=Path, help="私钥文件路径。")
    return parser


def _reason(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "文件或目录不存在"
    if isinstance(exc, PermissionError):
        return "没有权限"
    if isinstance(exc, IsADirectoryError):
        return "这是一个目录"
    return f"系统错误 {exc.errno}"


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise Failed(f"无法读取{what} {path}：{_reason(exc)}") from None


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create `path` with `data`; never overwrite an existing file."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise Failed(f"文件 {path} 已存在，不会覆盖；请换一个文件名。") from None
    except OSError as exc:
        raise Failed(f"无法创建文件 {path}：{_reason(exc)}") from None
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    # The mode passed to open is reduced by the umask; a private key must end up 0600 whatever it is.
    os.chmod(path, mode)


def _key(path: Path):
    return load_private_key(_read(path, "私钥文件"))


def keygen(args) -> None:
    key = new_private_key()
    _write_new(args.out, private_key_pem(key), 0o600)
    public = public_key_text(key)
    print(f"已生成私钥：{args.out}（仅本人可读，请妥善保管，不要交给服务器）")
    print(f"公钥：{public}")
    print(f"公钥指纹：{fingerprint(public)}")


def sign(args) -> None:
    head = read_head(_read(args.head, "链头文件"))
    checkpoint = sign_head(head, _key(args.key))
    data = checkpoint.file_bytes()
    print(f"链头：第 {head.seq} 条，哈希 {head.hash}，时间 {head.time}（UTC）", file=sys.stderr)
    if args.out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    _write_new(args.out, data, 0o644)
    print(f"已签名：{args.out}（公钥指纹 {checkpoint.fingerprint}）", file=sys.stderr)


def verify(args) -> None:
    checkpoint = read_checkpoint(_read(args.checkpoint, "检查点文件"))
    if args.public_key is not None and normalise_public_key(args.public_key) != checkpoint.public_key:
        raise Failed(f"签名公钥不符：检查点由公钥 {checkpoint.fingerprint} 签名，不是指定的公钥 "
                     f"{fingerprint(normalise_public_key(args.public_key))}。")
    head = checkpoint.head
    print(f"签名有效：第 {head.seq} 条，哈希 {head.hash}，时间 {head.time}（UTC），公钥指纹 {checkpoint.fingerprint}")


def pubkey(args) -> None:
    public = public_key_text(_key(args.key))
    print(f"公钥：{public}")
    print(f"公钥指纹：{fingerprint(public)}")


COMMANDS = {"keygen": keygen, "sign": sign, "verify": verify, "pubkey": pubkey}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        COMMANDS[args.command](args)
    except (Failed, CheckpointError) as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
