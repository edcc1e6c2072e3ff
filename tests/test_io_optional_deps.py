"""PyTorch, onnx and scikit-learn stay optional: importing glassnet's io (and the export command)
imports none of them, ONNX export works with PyTorch unavailable, and the interop functions say
what to install when their package is missing. Each check runs in a fresh interpreter."""
import subprocess
import sys
import textwrap


def run_python(code):
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_importing_glassnet_io_imports_no_torch_onnx_or_sklearn():
    out = run_python("""
        import sys
        import glassnet, glassnet.io, glassnet.nn, glassnet.models, glassnet.commands.export
        print(sorted(m for m in ("torch", "onnx", "onnxruntime", "sklearn") if m in sys.modules))
    """)
    assert out.strip() == "[]"


def test_onnx_export_works_without_torch(tmp_path):
    out = run_python(f"""
        import sys
        sys.modules["torch"] = None  # any `import torch` now raises ImportError
        from glassnet import io, nn
        io.to_onnx(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.GlobalAvgPool2d(), nn.Linear(2, 3)),
                   {str(tmp_path / "m.onnx")!r}, input_shape=(1, 5, 5))
        print("ok")
    """)
    assert out.strip() == "ok"


def test_interop_without_the_package_says_what_to_install():
    out = run_python("""
        import sys
        sys.modules["torch"] = None
        sys.modules["onnx"] = None
        from glassnet import io, nn
        for f in (lambda: io.to_torch(nn.Sequential(nn.ReLU())), lambda: io.from_torch(None),
                  lambda: io.to_onnx(nn.Sequential(nn.Linear(2, 2)), "m.onnx")):
            try:
                f()
            except ImportError as exc:
                print(exc)
    """)
    assert out.splitlines() == ["PyTorch interop needs torch: install it with `pip install 'glassnet[torch]' (on a "
                                "machine without a GPU, the CPU wheel: pip install torch --index-url "
                                "https://download.pytorch.org/whl/cpu)`"] * 2 + [
        "ONNX export needs the onnx package: pip install glassnet[onnx]"]
