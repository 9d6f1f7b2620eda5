"""CJK font discovery: a document without a Chinese font would print tofu boxes, so rendering
refuses to start instead (DESIGN.md §7)."""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import lru_cache

from ..errors import Problem

INSTALL_HINT = "请安装中文字体（Debian/Ubuntu：apt-get install fonts-noto-cjk）后重试"


class MissingCJKFont(Problem):
    """No font covering Chinese is installed: nothing is rendered, no number is used."""

    status = 503
    slug = "missing-cjk-font"
    default_title = "缺少中文字体"


@lru_cache(maxsize=8)
def _families(fontconfig_file: str | None) -> tuple[str, ...]:
    binary = shutil.which("fc-list")
    if binary is None:
        raise MissingCJKFont(f"未找到 fontconfig 的 fc-list 命令，无法确认中文字体；{INSTALL_HINT}（并安装 fontconfig）。")
    env = dict(os.environ)
    if fontconfig_file:
        env["FONTCONFIG_FILE"] = fontconfig_file
    try:
        result = subprocess.run([binary, ":lang=zh", "family"], capture_output=True, text=True, env=env,
                                timeout=30, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise MissingCJKFont(f"无法运行 fc-list 查找中文字体（{exc}）；{INSTALL_HINT}。") from None
    families = set()
    for line in result.stdout.splitlines():
        families.update(name.strip() for name in line.split(",") if name.strip())
    return tuple(sorted(families))


def cjk_font_families(fontconfig_file: str | None = None) -> tuple[str, ...]:
    """Families fontconfig knows that cover Chinese (`fc-list :lang=zh`), or MissingCJKFont.

    `fontconfig_file` points discovery at another font set (FONTCONFIG_FILE), as tests do with an
    empty one; None is the system's configuration.
    """
    families = _families(fontconfig_file)
    if not families:
        raise MissingCJKFont(f"系统中没有可用的中文字体，无法生成文书（否则汉字会显示为方框）；{INSTALL_HINT}。")
    return families
