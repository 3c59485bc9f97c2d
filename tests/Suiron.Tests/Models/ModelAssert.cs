using Suiron.Inference;
using Suiron.Models;

namespace Suiron.Tests.Models;

internal static class ModelAssert
{
    /// <summary>Index of the largest value; the first on ties (both engines are compared with this same rule).</summary>
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }

    /// <summary>max |ours − theirs| / max |theirs|: an error relative to the logits' scale, immune to near-zero entries.</summary>
    public static double MaxRelativeDifference(ReadOnlySpan<float> ours, ReadOnlySpan<float> theirs)
    {
        if (ours.Length != theirs.Length) throw new ArgumentException($"Lengths differ: {ours.Length} vs {theirs.Length}.");
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < ours.Length; i++)
        {
            if (!float.IsFinite(ours[i])) return double.PositiveInfinity;
            maxDiff = Math.Max(maxDiff, Math.Abs((double)ours[i] - theirs[i]));
            maxRef = Math.Max(maxRef, Math.Abs((double)theirs[i]));
        }
        return maxDiff / maxRef;
    }

    /// <summary>Our logits after <paramref name="prompt"/> and <paramref name="count"/> greedy tokens, decoded one at a time.</summary>
    public static (float[] PromptLogits, int[] Continuation) Greedy(ILanguageModel model, int[] prompt, int count, KvCache? cache = null)
    {
        cache ??= model.CreateCache(prompt.Length + count);
        int vocab = model.Info.VocabSize;
        var promptLogits = new float[vocab];
        model.Forward(prompt, cache, promptLogits);
        float[] logits = (float[])promptLogits.Clone();
        var continuation = new int[count];
        for (int i = 0; i < count; i++)
        {
            continuation[i] = ArgMax(logits);
            model.Forward([continuation[i]], cache, logits);
        }
        return (promptLogits, continuation);
    }

    /// <summary>
    /// Our logits at each step when fed <paramref name="prompt"/> and then the reference's tokens one at a time
    /// (teacher forcing, so both engines see identical inputs at every step even after a near-tie).
    /// </summary>
    public static float[][] TeacherForced(ILanguageModel model, int[] prompt, int[] continuation)
    {
        var cache = model.CreateCache(prompt.Length + continuation.Length);
        int vocab = model.Info.VocabSize;
        var steps = new float[continuation.Length][];
        for (int i = 0; i < continuation.Length; i++)
        {
            steps[i] = new float[vocab];
            model.Forward(i == 0 ? prompt : [continuation[i - 1]], cache, steps[i]);
        }
        return steps;
    }

    /// <summary>max |a − b| (absolute).</summary>
    public static double MaxAbsoluteDifference(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double max = 0;
        for (int i = 0; i < a.Length; i++) max = Math.Max(max, Math.Abs((double)a[i] - b[i]));
        return max;
    }
}
