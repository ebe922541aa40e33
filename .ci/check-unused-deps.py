#!/usr/bin/env python3
"""Fails when a workspace crate declares a dependency its sources never name.

Each crate's [dependencies], [dev-dependencies] and [build-dependencies] must each appear as
an identifier (dashes as underscores) somewhere in that crate's .rs files. A dependency kept
only to enable a feature of another crate must say so with a `# feature-only` comment on its
line.
"""
import glob
import os
import re
import sys
import tomllib

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
manifests = sorted(glob.glob(os.path.join(root, "crates/*/Cargo.toml")))
manifests.append(os.path.join(root, "tests/Cargo.toml"))
unused = []
for manifest in manifests:
    crate = os.path.dirname(manifest)
    text = open(manifest, encoding="utf-8").read()
    deps = tomllib.loads(text)
    source = "".join(
        open(f, encoding="utf-8").read()
        for f in glob.glob(os.path.join(crate, "**/*.rs"), recursive=True)
    )
    for section in ("dependencies", "dev-dependencies", "build-dependencies"):
        for name in deps.get(section, {}):
            if re.search(rf"^{re.escape(name)}\b.*# feature-only", text, re.M):
                continue
            if not re.search(rf"\b{name.replace('-', '_')}\b", source):
                unused.append(f"{os.path.relpath(manifest, root)} [{section}] {name}")
if unused:
    print("declared but never used:\n  " + "\n  ".join(unused))
    sys.exit(1)
print(f"every declared dependency of {len(manifests)} crates is used")
