"""CJK font discovery and the font set documents are rendered with (DESIGN.md §7).

A document without a Chinese font would print tofu boxes, so rendering refuses to start instead.
The body is set in 仿宋: a licensed 仿宋_GB2312 / 方正仿宋_GBK / FangSong where the machine has one,
else FandolFang, which `make install` (scripts/install-fonts.sh) puts beside a fontconfig file
that adds it to the system's fonts; without either the stylesheets fall back to Noto Serif CJK,
and this module says so in the log.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
from functools import lru_cache
from pathlib import Path

from ..errors import Problem

log = logging.getLogger(__name__)

# Family names of the 仿宋 faces the stylesheets list before their fallback (Noto Serif CJK).
FANGSONG_FAMILIES = ("仿宋_GB2312", "FangSong_GB2312", "方正仿宋_GBK", "FZFangSong-Z02", "FangSong", "仿宋",
                     "FandolFang")
FONTS_HINT = "执行 make install（由 texlive-lang-chinese 取出 FandolFang 字体）"

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


@lru_cache(maxsize=8)
def usable_fontconfig_file(fontconfig_file: str | None) -> str | None:
    """The fontconfig file when it exists, else None (the system's configuration), logged once:
    the default names the file `make install` writes, which a machine may not have yet."""
    if fontconfig_file and not Path(fontconfig_file).is_file():
        log.warning("fontconfig file %s not found: documents use the system's fonts (%s)", fontconfig_file,
                    FONTS_HINT)
        return None
    return fontconfig_file or None


def cjk_font_families(fontconfig_file: str | None = None) -> tuple[str, ...]:
    """Families fontconfig knows that cover Chinese (`fc-list :lang=zh`), or MissingCJKFont.

    `fontconfig_file` points discovery at another font set (FONTCONFIG_FILE), as tests do with an
    empty one; None, or a file that does not exist, is the system's configuration.
    """
    families = _families(usable_fontconfig_file(fontconfig_file))
    if not families:
        raise MissingCJKFont(f"系统中没有可用的中文字体，无法生成文书（否则汉字会显示为方框）；{INSTALL_HINT}。")
    _note_fangsong(families)
    return families


@lru_cache(maxsize=8)
def _note_fangsong(families: tuple[str, ...]) -> None:
    """Logs once per font set when no 仿宋 is installed: the body then prints in Noto Serif CJK,
    legible but not the face an official document is set in."""
    if not set(FANGSONG_FAMILIES) & set(families):
        log.warning("no 仿宋 font (FandolFang, 仿宋_GB2312, FangSong) installed: document bodies fall back to "
                    "Noto Serif CJK (%s)", FONTS_HINT)


def has_fangsong(fontconfig_file: str | None = None) -> bool:
    """Whether a 仿宋 face the stylesheets name is installed in this font set."""
    return bool(set(FANGSONG_FAMILIES) & set(cjk_font_families(fontconfig_file)))


# FONTCONFIG_FILE is process-wide: WeasyPrint's FontConfiguration reads it while it loads the
# configuration, so building one is serialised and the variable put back at once.
_ENVIRONMENT_LOCK = threading.Lock()


def font_configuration(fontconfig_file: str | None = None):
    """A WeasyPrint FontConfiguration over the given fontconfig file (None or a missing file: the
    system's), so that the fonts `make install` provides are used for rendering, not only found."""
    from weasyprint.text.fonts import FontConfiguration

    path = usable_fontconfig_file(fontconfig_file)
    if path is None:
        return FontConfiguration()
    with _ENVIRONMENT_LOCK:
        previous = os.environ.get("FONTCONFIG_FILE")
        os.environ["FONTCONFIG_FILE"] = path
        try:
            return FontConfiguration()
        finally:
            if previous is None:
                del os.environ["FONTCONFIG_FILE"]
            else:
                os.environ["FONTCONFIG_FILE"] = previous
