using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Suiron.Inference;

namespace Suiron.Kernels;

/// <summary>
/// The arithmetic of a gated DeltaNet layer (Yang, Kautz &amp; Hatamizadeh 2024, "Gated Delta Networks"), one token at a
/// time as llama.cpp's CPU <c>gated_delta_net</c> and <c>ssm_conv</c> ops run it. Each value head keeps a state matrix
/// S (head length × head length, row j = value element j, column i = key element i); for a token with query q, key
/// k (both L2-normalized, q also scaled by 1/√d), value v, decay g &lt; 0 and write strength β:
/// <code>
///   S ← exp(g) · S
///   S ← S + β (v − S k) kᵀ      the delta rule: move S's answer for k towards v
///   o = S q
/// </code>
/// </summary>
internal static class GatedDeltaRule
{
    /// <summary>One token through one head's state <paramref name="state"/> (rows of <c>k.Length</c>); writes <paramref name="output"/>.</summary>
    public static void Step(Span<float> state, ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, float decay, float beta, Span<float> output)
    {
        if (Vector.IsHardwareAccelerated && k.Length % Vector<float>.Count == 0) StepVector(state, q, k, v, decay, beta, output);
        else StepReference(state, q, k, v, decay, beta, output);
    }

    /// <summary>The plain loops <see cref="Step"/> vectorizes: per state row, decay and read with k, write, read with q.</summary>
    internal static void StepReference(Span<float> state, ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, float decay, float beta, Span<float> output)
    {
        int length = k.Length;
        for (int j = 0; j < v.Length; j++)
        {
            Span<float> row = state.Slice(j * length, length);
            float read = 0;
            for (int i = 0; i < length; i++)
            {
                row[i] *= decay;
                read += row[i] * k[i];
            }
            float delta = (v[j] - read) * beta;
            float o = 0;
            for (int i = 0; i < length; i++)
            {
                row[i] += delta * k[i];
                o += row[i] * q[i];
            }
            output[j] = o;
        }
    }

    internal static void StepVector(Span<float> state, ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, float decay, float beta, Span<float> output)
    {
        int length = k.Length, lanes = Vector<float>.Count;
        ref float kRef = ref MemoryMarshal.GetReference(k);
        ref float qRef = ref MemoryMarshal.GetReference(q);
        var decays = new Vector<float>(decay);
        for (int j = 0; j < v.Length; j++)
        {
            ref float row = ref MemoryMarshal.GetReference(state.Slice(j * length, length));
            var read = Vector<float>.Zero;
            for (int i = 0; i < length; i += lanes)
            {
                var s = Vector.LoadUnsafe(ref row, (nuint)i) * decays;
                s.StoreUnsafe(ref row, (nuint)i);
                read = Vector.FusedMultiplyAdd(s, Vector.LoadUnsafe(ref kRef, (nuint)i), read);
            }
            var delta = new Vector<float>((v[j] - Vector.Sum(read)) * beta);
            var o = Vector<float>.Zero;
            for (int i = 0; i < length; i += lanes)
            {
                var s = Vector.FusedMultiplyAdd(delta, Vector.LoadUnsafe(ref kRef, (nuint)i), Vector.LoadUnsafe(ref row, (nuint)i));
                s.StoreUnsafe(ref row, (nuint)i);
                o = Vector.FusedMultiplyAdd(s, Vector.LoadUnsafe(ref qRef, (nuint)i), o);
            }
            output[j] = Vector.Sum(o);
        }
    }

    /// <summary>
    /// The depthwise causal convolution of one token (ggml <c>ssm_conv</c>, no bias): channel c of the output is
    /// Σₖ weights[c·K + k] · x[k][c] over the window x = the K − 1 previous inputs (<paramref name="history"/>, oldest
    /// first) then <paramref name="input"/>; then the window slides by one.
    /// </summary>
    public static void Convolve(Span<float> history, ReadOnlySpan<float> input, ReadOnlySpan<float> weights, int kernel, Span<float> output)
    {
        int channels = input.Length, past = kernel - 1;
        for (int c = 0; c < channels; c++)
        {
            ReadOnlySpan<float> w = weights.Slice(c * kernel, kernel);
            float sum = 0;
            for (int k = 0; k < past; k++) sum += history[k * channels + c] * w[k];
            output[c] = sum + input[c] * w[past];
        }
        if (past == 0) return;
        history[channels..].CopyTo(history); // drop the oldest row
        input.CopyTo(history[((past - 1) * channels)..]);
    }

    /// <summary>x ← x / max(‖x‖, ε) over each row of <paramref name="length"/> (ggml <c>l2_norm</c>, squares summed in double).</summary>
    public static void L2Normalize(Span<float> rows, int length, float epsilon, float scale = 1f)
    {
        for (int start = 0; start < rows.Length; start += length)
        {
            Span<float> x = rows.Slice(start, length);
            double sum = 0;
            foreach (float value in x) sum += value * value;
            float factor = 1f / MathF.Max(MathF.Sqrt((float)sum), epsilon) * scale;
            for (int i = 0; i < x.Length; i++) x[i] *= factor;
        }
    }

    /// <summary>log(1 + eˣ), linear above 20 as ggml's softplus.</summary>
    public static float Softplus(float x) => x > 20f ? x : MathF.Log(1f + MathF.Exp(x));

    public static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));
}

/// <summary>
/// The delta-rule recurrence of a pass's sequences, split across the pool by (sequence, value head): each item walks its
/// sequence's tokens in order through that head's state. Run by <see cref="Models.GatedDeltaNet"/> after the
/// convolution, normalizations and gates are computed for every row.
/// </summary>
internal struct DeltaNetHeadsWork : IParallelWork
{
    public float[] Convolved;  // (rows, convWidth): q heads, k heads, v heads of each row, q and k normalized
    public float[] Gates;      // (rows, 2 · valueHeads): exp(g) then β of each value head
    public float[] Output;     // (rows, valueHeads · headLength)
    public KvCache[] SegmentCache;
    public int[] SegmentStart, SegmentCount;
    public int Layer, ValueHeads, KeyHeads, HeadLength, ConvWidth;
    public bool TiledKeyHeads; // value head h reads key head h mod keyHeads (else h / (valueHeads / keyHeads))

    public readonly void Execute(int start, int end)
    {
        int keyWidth = KeyHeads * HeadLength, valueWidth = ValueHeads * HeadLength, matrix = HeadLength * HeadLength;
        int ratio = ValueHeads / KeyHeads;
        for (int item = start; item < end; item++)
        {
            int segment = item / ValueHeads, head = item % ValueHeads;
            int keyHead = TiledKeyHeads ? head % KeyHeads : head / ratio;
            Span<float> state = SegmentCache[segment].Recurrent!.Matrices(Layer).Slice(head * matrix, matrix);
            for (int row = SegmentStart[segment]; row < SegmentStart[segment] + SegmentCount[segment]; row++)
            {
                ReadOnlySpan<float> x = Convolved.AsSpan(row * ConvWidth, ConvWidth);
                GatedDeltaRule.Step(state,
                    x.Slice(keyHead * HeadLength, HeadLength),
                    x.Slice(keyWidth + keyHead * HeadLength, HeadLength),
                    x.Slice(2 * keyWidth + head * HeadLength, HeadLength),
                    Gates[row * 2 * ValueHeads + head], Gates[row * 2 * ValueHeads + ValueHeads + head],
                    Output.AsSpan(row * valueWidth + head * HeadLength, HeadLength));
            }
        }
    }
}
