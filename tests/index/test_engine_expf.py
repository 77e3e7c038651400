"""The engine's 8-wide expf (attention's softmax, e5.c `expf_shifted`) gives libm's expf bits.

The softmax used to call expf once per key; the vector version reproduces glibc's algorithm
so that the vectors stay bit for bit what they were. Checked here for every one of the 2^32
floats, against this machine's libm, with the flags setup.py builds the engine with.
"""
from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HARNESS = r"""
#include "e5.c"
#include <stdio.h>
float (*volatile libm_expf)(float) = expf;   /* a call, never libmvec's vector clone */
int main(void) {
    long bad = 0;
    #pragma omp parallel for reduction(+:bad) schedule(static)
    for (long hi = 0; hi < 65536; hi++) {
        float *x = malloc(65536 * sizeof(float)), *got = malloc(65536 * sizeof(float));
        for (int lo = 0; lo < 65536; lo++) { uint32_t b = (uint32_t)(hi << 16 | lo); memcpy(&x[lo], &b, 4); }
        expf_shifted(x, 0.0f, got, 65536);
        for (int lo = 0; lo < 65536; lo++) {
            float want = libm_expf(x[lo]);
            if (memcmp(&want, &got[lo], 4) != 0) bad++;
        }
        free(x); free(got);
    }
    printf("%ld\n", bad);
    return 0;
}
"""


def build_flags() -> list[str]:
    tree = ast.parse((ROOT / "setup.py").read_text(encoding="utf-8"))
    return next(ast.literal_eval(node.value) for node in ast.walk(tree)
                if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "FLAGS")


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc, as setup.py does")
def test_the_vector_expf_matches_libm_on_every_float(tmp_path):
    (tmp_path / "check.c").write_text(HARNESS, encoding="utf-8")
    binary = tmp_path / "check"
    subprocess.run(["gcc", *build_flags(), "-I", str(ROOT / "index/embedders/e5engine"), str(tmp_path / "check.c"),
                    "-o", str(binary), "-lm"], check=True, capture_output=True)
    out = subprocess.run([str(binary)], check=True, capture_output=True, text=True, timeout=600)
    assert out.stdout.strip() == "0", f"{out.stdout.strip()} floats differ from libm's expf"
