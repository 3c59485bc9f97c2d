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

    internal static nint Export(string name) =>
        Library.Value != 0 && NativeLibrary.TryGetExport(Library.Value, name, out nint f) ? f : 0;

    // ggml's CPU backend (vec_dot kernels, activation quantizers), the AVX2 build: what llama.cpp runs on an AVX2 machine.
    private static readonly Lazy<nint> CpuLibrary = new(() =>
    {
        if (!System.Runtime.Intrinsics.X86.Avx2.IsSupported) return 0;
        string dir = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "avx2");
        _ = Library.Value;
        NativeLibrary.TryLoad(Path.Combine(dir, "libggml-base.so"), out _);
        if (!NativeLibrary.TryLoad(Path.Combine(dir, "libggml-cpu.so"), out nint handle)) return 0;
        // Fills the fp16 -> fp32 table the CPU kernels read block scales through.
        ((delegate* unmanaged<void>)NativeLibrary.GetExport(handle, "ggml_cpu_init"))();
        return handle;
    });

    internal static nint CpuExport(string name) =>
        CpuLibrary.Value != 0 && NativeLibrary.TryGetExport(CpuLibrary.Value, name, out nint f) ? f : 0;

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
            // quantize_row_iq4_nl_ref skips the scale search (ntry −1); llama-quantize writes files with quantize_iq4_nl's
            // (ntry 7), and those are the bytes we produce.
            TensorType.IQ4_NL => Export("quantize_iq4_nl"),
            _ => Export($"quantize_row_{Suffix(type)}_ref"),
        };
        Assert.True(f != 0, $"ggml export for {type} not found");
        delegate* unmanaged<float*, byte*, long, void> quantizeRow = type == TensorType.IQ4_NL ? null : (delegate* unmanaged<float*, byte*, long, void>)f;
        var quantizeRows = (delegate* unmanaged<float*, byte*, long, long, float*, nuint>)f;

        foreach (int blocks in KernelTestData.BlockCounts)
        {
            foreach (float scale in new[] { 1f, 1e-3f, 300f })
            {
                int n = blocks * TensorTypes.QK_K;
                var x = KernelTestData.Gaussian(n, seed: 31 * blocks + (int)(scale * 10), scale);
                var ours = KernelTestData.Encode(type, x);
                var theirs = new byte[ours.Length];
                fixed (float* xp = x) fixed (byte* tp = theirs)
                {
                    if (quantizeRow != null) quantizeRow(xp, tp, n);
                    else quantizeRows(xp, tp, 1, n, null);
                }
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

    [Theory]
    [MemberData(nameof(Types))]
    public void Dot_matches_ggml_cpu_vec_dot(TensorType type)
    {
        if (type is TensorType.Q8_1 or TensorType.Q8_K) return; // not weight types in ggml
        var activationType = Quantization.ActivationType(type);
        string name = type switch
        {
            TensorType.F32 or TensorType.F16 or TensorType.BF16 => $"ggml_vec_dot_{Suffix(type)}",
            _ => $"ggml_vec_dot_{Suffix(type)}_{Suffix(activationType)}",
        };
        nint f = CpuExport(name);
        if (CpuLibrary.Value == 0) return; // no AVX2 here: nothing to compare with
        Assert.True(f != 0, $"{name} not exported");
        var vecDot = (delegate* unmanaged<int, float*, nuint, byte*, nuint, byte*, nuint, int, void>)f;

        foreach (int blocks in KernelTestData.BlockCounts)
        {
            int n = blocks * TensorTypes.QK_K;
            var weights = KernelTestData.Encode(type, KernelTestData.Gaussian(n, seed: 3 * blocks, scale: 0.05f));
            var activations = KernelTestData.EncodeActivations(type, KernelTestData.Gaussian(n, seed: 5 * blocks, scale: 3f));
            var w = KernelTestData.Decode(type, weights, n);
            var a = KernelTestData.Decode(activationType, activations, n);
            double magnitude = 0;
            for (int i = 0; i < n; i++) magnitude += Math.Abs((double)w[i] * a[i]);

            float theirs;
            fixed (byte* wp = weights) fixed (byte* ap = activations) vecDot(n, &theirs, 0, wp, 0, ap, 0, 1);
            float ours = Quantization.Dot(type, weights, activations, n);
            Assert.True(Math.Abs(ours - theirs) <= 1e-5 * magnitude, $"{type} x{blocks}: ours {ours} ggml {theirs} (magnitude {magnitude})");
        }
    }

    [Theory]
    [InlineData(TensorType.Q8_0)]
    [InlineData(TensorType.Q8_1)]
    [InlineData(TensorType.Q8_K)]
    public void Activation_quantization_is_bit_exact_with_ggml_cpu(TensorType activationType)
    {
        nint f = CpuExport($"quantize_row_{Suffix(activationType)}");
        if (CpuLibrary.Value == 0) return;
        Assert.True(f != 0);
        var quantize = (delegate* unmanaged<float*, byte*, long, void>)f;
        foreach (int blocks in KernelTestData.BlockCounts)
        {
            foreach (float scale in new[] { 1f, 1e-3f, 300f })
            {
                int n = blocks * TensorTypes.QK_K;
                var x = KernelTestData.Gaussian(n, seed: 13 * blocks, scale);
                var ours = new byte[TensorTypes.RowBytes(activationType, n)];
                Quantization.QuantizeActivations(activationType, x, ours);
                var theirs = new byte[ours.Length];
                fixed (float* xp = x) fixed (byte* tp = theirs) quantize(xp, tp, n);
                int diff = ours.AsSpan().CommonPrefixLength(theirs);
                Assert.True(diff == ours.Length, $"{activationType} x{blocks} scale {scale}: first difference at byte {diff}");
            }
        }
    }
}
