using System.Runtime.InteropServices;
using Suiron.Kernels;
using Suiron.Tensors;
using Xunit;

namespace Suiron.Tests.Kernels;

/// <summary>
/// Calls ggml's own reference quantizers and dequantizers in the libggml-base.so that LLamaSharp.Backend.Cpu ships,
/// and requires our bytes and floats to be identical. This is the independent check of the scalar spec.
/// </summary>
public sealed unsafe class GgmlOracleTests
{
    private static readonly Lazy<nint> Library = new(LoadGgmlBase);

    private static nint LoadGgmlBase()
    {
        // The noavx build: no FMA contraction can sneak into the reference code paths.
        string dir = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native");
        foreach (string variant in new[] { "noavx", "avx2", "avx", "avx512" })
        {
            string path = Path.Combine(dir, variant, "libggml-base.so");
            if (File.Exists(path) && NativeLibrary.TryLoad(path, out nint handle)) return handle;
        }
        return 0;
    }

    private static nint Export(string name) =>
        Library.Value != 0 && NativeLibrary.TryGetExport(Library.Value, name, out nint f) ? f : 0;

    private static string Suffix(TensorType type) => type.ToString().ToLowerInvariant().Replace("_k", "_K");

    public static IEnumerable<object[]> Types() => KernelTestData.AllTypesData();

    [Theory]
    [MemberData(nameof(Types))]
    public void Quantize_is_bit_exact_with_ggml_reference(TensorType type)
    {
        if (type == TensorType.F32) return;
        nint f = type switch
        {
            TensorType.F16 => Export("ggml_fp32_to_fp16_row"),
            TensorType.BF16 => Export("ggml_fp32_to_bf16_row_ref"),
            _ => Export($"quantize_row_{Suffix(type)}_ref"),
        };
        Assert.True(f != 0, $"ggml export for {type} not found");
        var quantize = (delegate* unmanaged<float*, byte*, long, void>)f;

        foreach (int blocks in KernelTestData.BlockCounts)
        {
            foreach (float scale in new[] { 1f, 1e-3f, 300f })
            {
                int n = blocks * TensorTypes.QK_K;
                var x = KernelTestData.Gaussian(n, seed: 31 * blocks + (int)(scale * 10), scale);
                var ours = KernelTestData.Encode(type, x);
                var theirs = new byte[ours.Length];
                fixed (float* xp = x) fixed (byte* tp = theirs) quantize(xp, tp, n);
                int diff = ours.AsSpan().CommonPrefixLength(theirs);
                Assert.True(diff == ours.Length,
                    $"{type} x{blocks} scale {scale}: first difference at byte {diff} (block {diff / TensorTypes.BlockBytes(type)}, " +
                    $"offset {diff % TensorTypes.BlockBytes(type)}): ours {(diff < ours.Length ? ours[diff] : 0)} ggml {(diff < ours.Length ? theirs[diff] : 0)}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void Dequantize_is_bit_exact_with_ggml(TensorType type)
    {
        if (type is TensorType.F32 or TensorType.Q8_1) return; // ggml has no Q8_1 to_float
        nint f = type switch
        {
            TensorType.F16 => Export("ggml_fp16_to_fp32_row"),
            TensorType.BF16 => Export("ggml_bf16_to_fp32_row"),
            _ => Export($"dequantize_row_{Suffix(type)}"),
        };
        Assert.True(f != 0, $"ggml export for {type} not found");
        var dequantize = (delegate* unmanaged<byte*, float*, long, void>)f;

        foreach (int blocks in KernelTestData.BlockCounts)
        {
            int n = blocks * TensorTypes.QK_K;
            var bytes = KernelTestData.Encode(type, KernelTestData.Gaussian(n, seed: 77 + blocks));
            var ours = KernelTestData.Decode(type, bytes, n);
            var theirs = new float[n];
            fixed (byte* bp = bytes) fixed (float* tp = theirs) dequantize(bp, tp, n);
            for (int i = 0; i < n; i++)
                Assert.True(BitConverter.SingleToInt32Bits(ours[i]) == BitConverter.SingleToInt32Bits(theirs[i]),
                    $"{type} x{blocks} element {i}: ours {ours[i]} ggml {theirs[i]}");
        }
    }
}
