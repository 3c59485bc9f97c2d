using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Suiron.Kernels;

/// <summary>
/// The orthonormal Walsh–Hadamard rotation <c>x ← (H_n / √n) · x</c>, applied in place to each consecutive block of
/// <c>n</c> elements (n a power of two). H_n is Sylvester's matrix, <c>H[i, j] = (−1)^popcount(i &amp; j)</c>: the one
/// llama.cpp's <c>ggml_gen_hadamard</c> builds for its attention rotation. H_n/√n is symmetric and its own inverse,
/// so the same call rotates and rotates back.
/// The fast transform costs n·log₂n additions per block instead of the n² multiply-adds of a matrix product:
/// log₂n butterfly stages <c>(a, b) → (a + b, a − b)</c> over pairs h = 1, 2, 4 … apart, then one scale by 1/√n.
/// <see cref="RotateScalar"/> is the reference; <see cref="Rotate"/> does the same additions in the same order
/// eight lanes wide (AVX: the stages h = 1, 2, 4 inside a register by lane permutes, the rest between registers),
/// so the two agree bit for bit. Nothing is allocated.
/// </summary>
internal static unsafe class Hadamard
{
    /// <summary>1/√n as llama.cpp computes it (<c>1.0 / sqrtf(n)</c>, stored as float).</summary>
    internal static float Scale(int blockLength) => (float)(1.0 / MathF.Sqrt(blockLength));

    /// <summary>Rotates each block of <paramref name="blockLength"/> elements of <paramref name="data"/> in place.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rotate(Span<float> data, int blockLength)
    {
        Check(data.Length, blockLength);
        if (!Avx.IsSupported || blockLength < 8)
        {
            RotateScalar(data, blockLength);
            return;
        }
        float scale = Scale(blockLength);
        // Lane signs of the in-register stages: lane k of stage h takes v[k] + v[k ^ h] if bit h of k is clear, else v[k ^ h] − v[k].
        var sign1 = Vector256.Create(1f, -1f, 1f, -1f, 1f, -1f, 1f, -1f);
        var sign2 = Vector256.Create(1f, 1f, -1f, -1f, 1f, 1f, -1f, -1f);
        var sign4 = Vector256.Create(1f, 1f, 1f, 1f, -1f, -1f, -1f, -1f);
        var scales = Vector256.Create(scale);
        fixed (float* start = data)
        {
            for (float* x = start, end = start + data.Length; x < end; x += blockLength)
            {
                for (int i = 0; i < blockLength; i += 8)
                {
                    var v = Avx.LoadVector256(x + i);
                    v = Avx.Add(Avx.Multiply(v, sign1), Avx.Permute(v, 0b10_11_00_01)); // lanes 1,0,3,2 | 5,4,7,6
                    v = Avx.Add(Avx.Multiply(v, sign2), Avx.Permute(v, 0b01_00_11_10)); // lanes 2,3,0,1 | 6,7,4,5
                    v = Avx.Add(Avx.Multiply(v, sign4), Avx.Permute2x128(v, v, 0x01));  // halves swapped
                    Avx.Store(x + i, v);
                }
                for (int h = 8; h < blockLength; h *= 2)
                {
                    for (int i = 0; i < blockLength; i += 2 * h)
                    {
                        for (int j = i; j < i + h; j += 8)
                        {
                            var a = Avx.LoadVector256(x + j);
                            var b = Avx.LoadVector256(x + j + h);
                            Avx.Store(x + j, Avx.Add(a, b));
                            Avx.Store(x + j + h, Avx.Subtract(a, b));
                        }
                    }
                }
                for (int i = 0; i < blockLength; i += 8) Avx.Store(x + i, Avx.Multiply(Avx.LoadVector256(x + i), scales));
            }
        }
    }

    /// <summary>The reference: the butterfly stages one element pair at a time, then the scale.</summary>
    public static void RotateScalar(Span<float> data, int blockLength)
    {
        Check(data.Length, blockLength);
        float scale = Scale(blockLength);
        for (int start = 0; start < data.Length; start += blockLength)
        {
            Span<float> x = data.Slice(start, blockLength);
            for (int h = 1; h < blockLength; h *= 2)
            {
                for (int i = 0; i < blockLength; i += 2 * h)
                {
                    for (int j = i; j < i + h; j++)
                    {
                        float a = x[j], b = x[j + h];
                        x[j] = a + b;
                        x[j + h] = a - b;
                    }
                }
            }
            for (int j = 0; j < blockLength; j++) x[j] *= scale;
        }
    }

    private static void Check(int length, int blockLength)
    {
        if (blockLength <= 0 || (blockLength & (blockLength - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(blockLength), $"A Hadamard block length must be a power of two; {blockLength} is not.");
        if (length % blockLength != 0)
            throw new ArgumentException($"{length} elements are not a whole number of {blockLength}-element blocks.", nameof(length));
    }
}
