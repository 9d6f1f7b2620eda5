#!/usr/bin/env bash
# Installs the Fandol fonts (FandolFang, a freely licensed 仿宋 for the body of official documents;
# FandolSong Bold, a heavy Song for titles; FandolKai, FandolHei) into a project-local folder and
# writes the fontconfig file that adds that folder to the system's fonts (server/pdf/fonts.py
# renders with it). Usage: scripts/install-fonts.sh DIR
#
# Debian ships the fonts only inside texlive-lang-chinese (about 49 MB, with TeX dependencies),
# so the package is downloaded, unpacked in a temporary folder and only the font files are kept;
# nothing is installed system-wide. Idempotent and quick when done. Where the package cannot be
# fetched it says what to do and carries on: documents then fall back to Noto Serif CJK.
set -u
dir="${1:?usage: scripts/install-fonts.sh DIR}"
package=texlive-lang-chinese
fonts=(FandolFang-Regular.otf FandolSong-Regular.otf FandolSong-Bold.otf FandolKai-Regular.otf
       FandolHei-Regular.otf FandolHei-Bold.otf)
source_dir=usr/share/texlive/texmf-dist/fonts/opentype/public/fandol
license=usr/share/doc/texlive-doc/fonts/fandol/COPYING.gz
mkdir -p "$dir" || { echo "无法创建字体目录 $dir，跳过仿宋字体安装；文书将改用 Noto Serif CJK。" >&2; exit 0; }
dir="$(cd "$dir" && pwd)"

write_fontconfig() {
  # The system's configuration first (Noto CJK and any licensed 仿宋_GB2312 / 方正 fonts stay
  # visible), then this folder. fontconfig reads FandolSong-Bold and FandolHei-Bold as weight
  # "regular" (their OS/2 weight class is 400), so a bold title would match the regular face and
  # be emboldened artificially: the scan rules give them their real weight.
  local conf="$dir/fonts.conf" tmp="$dir/fonts.conf.tmp"
  cat >"$tmp" <<EOF
<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<!-- Written by scripts/install-fonts.sh: the system's fonts plus the Fandol fonts of anfang. -->
<fontconfig>
  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>
  <dir>$dir</dir>
  <match target="scan">
    <test name="postscriptname" compare="eq"><string>FandolSong-Bold</string></test>
    <edit name="weight" mode="assign"><const>bold</const></edit>
  </match>
  <match target="scan">
    <test name="postscriptname" compare="eq"><string>FandolHei-Bold</string></test>
    <edit name="weight" mode="assign"><const>bold</const></edit>
  </match>
</fontconfig>
EOF
  if [ -f "$conf" ] && cmp -s "$tmp" "$conf"; then rm -f "$tmp"; else mv "$tmp" "$conf"; fi
  # Build the cache now, so that the first document rendered does not scan 30 MB of fonts.
  command -v fc-cache >/dev/null 2>&1 && FONTCONFIG_FILE="$conf" fc-cache "$dir" >/dev/null 2>&1
  return 0
}

complete=yes
for font in "${fonts[@]}"; do [ -s "$dir/$font" ] || complete=no; done
if [ "$complete" = yes ]; then
  write_fontconfig
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
  echo "未安装仿宋字体 FandolFang：本机没有 apt-get/dpkg-deb。请从 $package 软件包（或 CTAN 的 fandol）取得 ${fonts[*]}，放入 $dir 后重新执行 make install；在此之前文书正文改用 Noto Serif CJK。" >&2
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# apt-get download writes into the current folder; the _apt user cannot write into a private
# temporary folder, so the download runs unsandboxed there (its warning is expected).
if ! (cd "$work" && apt-get download -qq "$package" >"$work/apt.log" 2>&1); then
  if [ "$(id -u)" -eq 0 ] && apt-get update -qq >>"$work/apt.log" 2>&1; then
    (cd "$work" && apt-get download -qq "$package" >>"$work/apt.log" 2>&1)
  fi
fi
deb=("$work"/"$package"_*.deb)
if [ ! -f "${deb[0]}" ]; then
  cp "$work/apt.log" /tmp/anfang-fonts.log 2>/dev/null
  echo "下载 $package 失败（详见 /tmp/anfang-fonts.log），未安装仿宋字体 FandolFang；文书正文暂用 Noto Serif CJK。请联网后（或以 root 运行 apt-get update 后）重新执行 make install。" >&2
  exit 0
fi
if ! dpkg-deb -x "${deb[0]}" "$work/root"; then
  echo "解开 $package 失败，未安装仿宋字体 FandolFang；文书正文暂用 Noto Serif CJK。" >&2
  exit 0
fi
for font in "${fonts[@]}"; do
  if [ -s "$work/root/$source_dir/$font" ]; then
    install -m 0644 "$work/root/$source_dir/$font" "$dir/$font"
  else
    echo "$package 中没有 $font，已跳过。" >&2
  fi
done
# The Fandol fonts are GPL with the font exception: their licence travels with them.
[ -f "$work/root/$license" ] && gzip -dc "$work/root/$license" >"$dir/COPYING.Fandol"
write_fontconfig
echo "已安装仿宋字体 FandolFang 等 Fandol 字体到 $dir"
exit 0
