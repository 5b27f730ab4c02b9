#!/usr/bin/env bash
# How assets/fonts/NotoSansSC-Regular-kiosk.otf was made (run from the repository root).
#   apt-get install fonts-noto-cjk        # Noto Sans CJK, SIL Open Font License 1.1
#   pip install fonttools
#   The 8,105 characters of 通用规范汉字表 (2013), one "U+XXXX<TAB>字" a line, from the public
#   list at https://github.com/kitty-panics/cn-tables (通用规范汉字表.txt), saved as tgh.txt.
set -euo pipefail
LIST=${1:-tgh.txt}
cut -f1 "$LIST" | sed 's/^U+//' | paste -sd, - > /tmp/kiosk-han.txt
pyftsubset /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc --font-number=2 \
  --unicodes-file=<(tr ',' '\n' < /tmp/kiosk-han.txt) \
  --unicodes="U+0020-007E,U+00A0-00FF,U+2000-206F,U+2100-214F,U+2190-21FF,U+2460-24FF,U+25A0-25FF,U+3000-303F,U+3200-32FF,U+FF00-FFEF" \
  --layout-features='*' --no-hinting \
  --output-file=assets/fonts/NotoSansSC-Regular-kiosk.otf
