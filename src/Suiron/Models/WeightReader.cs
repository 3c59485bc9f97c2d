using System.Runtime.InteropServices;
using Suiron.Gguf;
using Suiron.Kernels;
using Suiron.Tensors;

namespace Suiron.Models;

/// <summary>
/// Fetches weights by their GGUF names and checks their shapes against the hyper-parameters, so a file that does
/// not fit its own metadata fails at load with the tensor's name, never with garbage at run time. Matrices stay views
/// into the memory map in their stored type; vectors (norms, biases) are small and decoded to F32.
/// A few architectures need a weight re-laid-out at load (e.g. a transposed slice); <see cref="Owned"/> keeps such
/// F32 copies in pinned arrays that live as long as the reader's owner.
/// </summary>
internal sealed class WeightReader(GgufFile file)
{
    private readonly List<float[]> _owned = [];
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public GgufFile File => file;

    public bool Has(string name) => file.HasTensor(name);

    private Tensor Use(string name)
    {
        Tensor t = file.GetTensor(name);
        _used.Add(name);
        return t;
    }

    /// <summary>
    /// Marks every tensor whose name starts with <paramref name="prefix"/> as read, without decoding it (weights a file
    /// carries for a feature the forward pass does not run, such as GLM-4.5's multi-token-prediction layer); returns
    /// their element count.
    /// </summary>
    public long SkipPrefix(string prefix)
    {
        long elements = 0;
        foreach (var t in file.Tensors)
        {
            if (!t.Name.StartsWith(prefix, StringComparison.Ordinal)) continue;
            _used.Add(t.Name);
            elements += t.ElementCount;
        }
        return elements;
    }

    /// <summary>The token embedding (ggml shape [embedding, vocab]) and the vocabulary size it implies.</summary>
    public (Tensor Embedding, int VocabSize) TokenEmbedding(int embedding)
    {
        Tensor t = Use("token_embd.weight");
        if (t.Shape.Length != 2 || t.Shape[0] != embedding)
            throw WrongShape(t, $"[{embedding}, vocab]");
        // Token ids are ints; a (sparse) file can declare more rows than that, which must be refused by name, not overflow.
        if (t.Shape[1] > int.MaxValue)
            throw new GgufException($"Tensor '{t.Name}' has {t.Shape[1]} rows, more token ids than Suiron can address ({int.MaxValue})", -1, file.Path);
        return (t, (int)t.Shape[1]);
    }

    /// <summary>The output projection; without <c>output.weight</c> it is tied to the token embedding.</summary>
    public Tensor OutputProjection(int embedding, int vocab, Tensor tokenEmbedding) =>
        Has("output.weight") ? Matrix("output.weight", embedding, vocab) : tokenEmbedding;

    /// <summary>
    /// Fails when the file holds tensors the architecture did not read. llama.cpp refuses such files too ("wrong number
    /// of tensors"): an unread bias or norm means the file needs a feature this implementation lacks, and running
    /// without it would give wrong answers silently.
    /// </summary>
    public void EnsureAllUsed(string architecture)
    {
        var unused = file.Tensors.Select(t => t.Name).Where(name => !_used.Contains(name)).ToList();
        if (unused.Count > 0)
            throw new GgufException(
                $"{unused.Count} tensor(s) not used by Suiron's {architecture} implementation (e.g. '{string.Join("', '", unused.Take(5))}'): " +
                "the file needs a feature Suiron does not support, and ignoring the tensors would give wrong results", -1, file.Path);
    }

    /// <summary>A 2-D weight of <paramref name="rows"/> rows of <paramref name="columns"/> (ggml shape [columns, rows]).</summary>
    public Tensor Matrix(string name, int columns, int rows)
    {
        Tensor t = Use(name);
        if (t.Shape.Length != 2 || t.Shape[0] != columns || t.Shape[1] != rows)
            throw WrongShape(t, $"[{columns}, {rows}]");
        return t;
    }

    /// <summary>A 3-D stack of <paramref name="count"/> matrices of <paramref name="rows"/> × <paramref name="columns"/> (ggml shape [columns, rows, count]).</summary>
    public Tensor Stacked(string name, int columns, int rows, int count)
    {
        Tensor t = Use(name);
        if (t.Shape.Length != 3 || t.Shape[0] != columns || t.Shape[1] != rows || t.Shape[2] != count)
            throw WrongShape(t, $"[{columns}, {rows}, {count}]");
        return t;
    }

    /// <summary>A 1-D tensor decoded to F32.</summary>
    public float[] Vector(string name, int length)
    {
        Tensor t = Use(name);
        if (t.Shape.Length != 1 || t.Shape[0] != length)
            throw WrongShape(t, $"[{length}]");
        var values = new float[length];
        unsafe { Quantization.Dequantize(t.Type, new ReadOnlySpan<byte>(t.Data, checked((int)t.ByteLength)), values); }
        return values;
    }

    public float[]? OptionalVector(string name, int length) => Has(name) ? Vector(name, length) : null;

    /// <summary>Rows [first, first + count) of <paramref name="t"/> decoded to F32, row-major.</summary>
    public static float[] DecodeRows(Tensor t, long first, int count)
    {
        var values = new float[(long)count * t.Columns];
        for (int r = 0; r < count; r++)
            Quantization.Dequantize(t.Type, t.Row(first + r), values.AsSpan(r * t.Columns, t.Columns));
        return values;
    }

    /// <summary>An F32 tensor over a pinned copy of <paramref name="values"/>, kept alive by this reader's owner.</summary>
    public unsafe Tensor Owned(string name, long[] shape, float[] values)
    {
        float[] pinned = GC.AllocateUninitializedArray<float>(values.Length, pinned: true);
        values.CopyTo(pinned);
        _owned.Add(pinned);
        byte* data = (byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(pinned));
        return new Tensor(name, TensorType.F32, shape, data, (long)values.Length * sizeof(float));
    }

    /// <summary>The arrays behind <see cref="Owned"/> tensors; whoever holds the tensors must hold these.</summary>
    public IReadOnlyList<float[]> OwnedArrays => _owned;

    public GgufException WrongShape(Tensor t, string expected) =>
        new($"Tensor '{t.Name}' has shape [{string.Join(", ", t.Shape)}], expected {expected} for this model's hyper-parameters", -1, file.Path);
}
