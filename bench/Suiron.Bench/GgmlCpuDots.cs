using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Suiron.Kernels;
using Suiron.Tensors;

namespace Suiron.Bench;

/// <summary>
/// ggml's own CPU vec_dot kernels (the libggml-cpu.so build LLamaSharp ships for this CPU's widest ISA, the one llama.cpp
/// runs here) as a column of <see cref="KernelBench"/>: the same rows and activations (our Q8_K and Q8_0 encodings are
/// ggml's block layouts), called one row at a time as our kernels are, without a GC transition.
/// </summary>
internal static unsafe class GgmlCpuDots
{
    private static delegate* unmanaged[SuppressGCTransition]<int, float*, nuint, byte*, nuint, byte*, nuint, int, void> selected;

    private static readonly Lazy<(nint Handle, string Variant)> Library = new(() =>
    {
        LlamaCppSubject.LoadNative();
        string dir = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native");
        var variants = new List<string>();
        if (Avx512F.IsSupported && Avx512BW.IsSupported) variants.Add("avx512");
        if (Avx2.IsSupported) variants.Add("avx2");
        variants.AddRange(["avx", "noavx"]);
        foreach (string variant in variants)
        {
            string path = Path.Combine(dir, variant, "libggml-cpu.so");
            NativeLibrary.TryLoad(Path.Combine(dir, variant, "libggml-base.so"), out _);
            if (!File.Exists(path) || !NativeLibrary.TryLoad(path, out nint handle)) continue;
            // fills the fp16 -> fp32 table the kernels read block scales through
            ((delegate* unmanaged<void>)NativeLibrary.GetExport(handle, "ggml_cpu_init"))();
            return (handle, variant);
        }
        throw new InvalidOperationException("ggml's CPU library was not found in LLamaSharp's native libraries (linux-x64 only here).");
    });

    public static string Describe() => $"LLamaSharp's {Library.Value.Variant}/libggml-cpu.so vec_dot, one row per call";

    /// <summary>Makes <see cref="Dot"/> run ggml's kernel for the type; false where ggml exports none against our activation encoding.</summary>
    public static bool Select(TensorType type)
    {
        string activation = Quantization.ActivationType(type) switch
        {
            TensorType.Q8_K => "q8_K",
            TensorType.Q8_0 => "q8_0",
            _ => "",
        };
        string name = $"ggml_vec_dot_{type.ToString().ToLowerInvariant().Replace("_k", "_K")}_{activation}";
        if (activation.Length == 0 || !NativeLibrary.TryGetExport(Library.Value.Handle, name, out nint f)) return false;
        selected = (delegate* unmanaged[SuppressGCTransition]<int, float*, nuint, byte*, nuint, byte*, nuint, int, void>)f;
        return true;
    }

    public static float Dot(byte* w, byte* a, int n)
    {
        float result;
        selected(n, &result, 0, w, 0, a, 0, 1);
        return result;
    }
}
