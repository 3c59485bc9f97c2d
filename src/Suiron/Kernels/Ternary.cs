using System.Runtime.CompilerServices;
using Suiron.Tensors;

namespace Suiron.Kernels;

/// <summary>
/// The ternary types TQ1_0 and TQ2_0 (ggml's encodings for BitNet b1.58 and TriLM weights, x = d · (t − 1), t ∈ {0, 1, 2}):
/// reference quantizers and dequantizers bit-exact with ggml's, and dots against Q8_K activations as ggml's CPU
/// vec_dot computes them — per block an exact integer Σ (t − 1) · y, times d_x · d_y — in a scalar reference (the SIMD
/// dots, every width, are <see cref="TernaryDot{TOps, TVector, TLanes}"/>).
/// A TQ1_0 byte holds five trits as a fixed-point fraction of 3⁵ (see <see cref="BlockTQ1_0"/>): trit n is
/// ((byte · 3ⁿ) mod 256 · 3) >> 8.
/// </summary>
internal static unsafe class Ternary
{
    private static ReadOnlySpan<byte> Pow3 => [1, 3, 9, 27, 81, 243];

    /// <summary>Trit <paramref name="n"/> (0..2) of a TQ1_0 byte.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Trit(byte packed, int n) => (byte)(packed * Pow3[n]) * 3 >> 8;

    /// <summary>Packs base-3 digits (most significant first) into a byte: ⌈value · 256 / 243⌉.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte PackTrits(int value) => (byte)((value * 256 + 242) / 243);

    private static int Ternarize(float x, float inverseScale) => (int)MathF.Round(x * inverseScale, MidpointRounding.AwayFromZero) + 1;

    private static float AbsMax(float* x, int n)
    {
        float max = 0;
        for (int i = 0; i < n; i++) max = MathF.Max(max, MathF.Abs(x[i]));
        return max;
    }

    /// <summary>ggml's quantize_row_tq1_0_ref: d = max |x|, t = round(x / d) + 1, packed five (then four) trits a byte.</summary>
    public static void QuantizeTQ1_0(float* x, BlockTQ1_0* y, int blocks)
    {
        for (int b = 0; b < blocks; b++, x += 256)
        {
            float d = AbsMax(x, 256), id = d != 0 ? 1f / d : 0f;
            y[b].D = (Half)d;
            float* at = x;
            for (int m = 0; m < 32; m++)
            {
                int q = 0;
                for (int n = 0; n < 5; n++) q = q * 3 + Ternarize(at[m + 32 * n], id);
                y[b].Qs[m] = PackTrits(q);
            }
            at += 160;
            for (int m = 0; m < 16; m++)
            {
                int q = 0;
                for (int n = 0; n < 5; n++) q = q * 3 + Ternarize(at[m + 16 * n], id);
                y[b].Qs[32 + m] = PackTrits(q);
            }
            at += 80;
            for (int j = 0; j < 4; j++)
            {
                int q = 0;
                for (int n = 0; n < 4; n++) q = q * 3 + Ternarize(at[j + 4 * n], id);
                y[b].Qh[j] = PackTrits(q * 3); // four trits take the top places of five
            }
        }
    }

    /// <summary>ggml's quantize_row_tq2_0_ref: d = max |x|, t = round(x / d) + 1 in two bits.</summary>
    public static void QuantizeTQ2_0(float* x, BlockTQ2_0* y, int blocks)
    {
        for (int b = 0; b < blocks; b++, x += 256)
        {
            float d = AbsMax(x, 256), id = d != 0 ? 1f / d : 0f;
            y[b].D = (Half)d;
            for (int half = 0; half < 2; half++)
                for (int m = 0; m < 32; m++)
                {
                    int q = 0;
                    for (int l = 0; l < 4; l++) q |= (Ternarize(x[128 * half + 32 * l + m], id) & 3) << (2 * l);
                    y[b].Qs[32 * half + m] = (byte)q;
                }
        }
    }

    /// <summary>The trit of element <paramref name="i"/> (0..255) of a TQ1_0 block.</summary>
    private static int TQ1_0Trit(BlockTQ1_0* x, int i) =>
        i < 160 ? Trit(x->Qs[i % 32], i / 32)
        : i < 240 ? Trit(x->Qs[32 + (i - 160) % 16], (i - 160) / 16)
        : Trit(x->Qh[(i - 240) % 4], (i - 240) / 4);

    private static int TQ2_0Trit(BlockTQ2_0* x, int i) => x->Qs[32 * (i / 128) + i % 32] >> (2 * (i % 128 / 32)) & 3;

    public static void DequantizeTQ1_0(BlockTQ1_0* x, float* y, int blocks)
    {
        for (int b = 0; b < blocks; b++)
        {
            float d = (float)x[b].D;
            for (int i = 0; i < 256; i++) *y++ = (TQ1_0Trit(x + b, i) - 1) * d;
        }
    }

    public static void DequantizeTQ2_0(BlockTQ2_0* x, float* y, int blocks)
    {
        for (int b = 0; b < blocks; b++)
        {
            float d = (float)x[b].D;
            for (int i = 0; i < 256; i++) *y++ = (TQ2_0Trit(x + b, i) - 1) * d;
        }
    }

    /// <summary>TQ1_0 against Q8_K, the reference: Σ over blocks of (d_x · d_y) · Σᵢ (tᵢ − 1) · yᵢ.</summary>
    public static float DotTQ1_0(byte* w, byte* a, int n)
    {
        var x = (BlockTQ1_0*)w;
        var y = (BlockQ8K*)a;
        float sum = 0;
        for (int b = 0; b < n / 256; b++)
        {
            int sumi = 0;
            for (int i = 0; i < 256; i++) sumi += (TQ1_0Trit(x + b, i) - 1) * y[b].Qs[i];
            sum += sumi * ((float)x[b].D * y[b].D);
        }
        return sum;
    }

    /// <summary>TQ2_0 against Q8_K, the reference.</summary>
    public static float DotTQ2_0(byte* w, byte* a, int n)
    {
        var x = (BlockTQ2_0*)w;
        var y = (BlockQ8K*)a;
        float sum = 0;
        for (int b = 0; b < n / 256; b++)
        {
            int sumi = 0;
            for (int i = 0; i < 256; i++) sumi += (TQ2_0Trit(x + b, i) - 1) * y[b].Qs[i];
            sum += sumi * ((float)x[b].D * y[b].D);
        }
        return sum;
    }
}
