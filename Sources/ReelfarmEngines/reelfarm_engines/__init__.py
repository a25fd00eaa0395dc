"""reelfarm's engine processes: PyTorch and diffusers models behind the engine-process contract (ENGINES.md)."""

__version__ = "0.1.0"

# Engine name -> "module:factory". Imported lazily: loading one engine must not import another's dependencies.
ENGINES = {
    "mmdit-torch": "reelfarm_engines.mmdit_torch:MMDiTTorchEngine",
    "ltx2": "reelfarm_engines.ltx2:LTX2Engine",
    "skyreels-v2-df": "reelfarm_engines.skyreels_v2_df:SkyReelsV2DFEngine",
}
