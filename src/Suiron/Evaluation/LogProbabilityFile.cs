using System.Text;

namespace Suiron.Evaluation;

/// <summary>
/// The base model's log-probabilities for KL divergence (<c>suiron perplexity --kl-divergence-base FILE</c>), so that a
/// quantized file can later be compared with it token by token without loading both models. Layout (little-endian):
/// <code>
///   "SUIRONLP" · int32 version 1 · int32 context · int32 vocab · int32 chunks · int32 token count · int32 tokens[count]
///   per scored row (chunk by chunk, rows ctx/2 … ctx − 2): float top · float step · uint16 q[vocab]
/// </code>
/// A row's log-probabilities are stored in 16 bits as top − q · step, like llama-perplexity's base file, at half of
/// float32's size: top is the row's largest log p (exact: q = 0), step = (top − lowest) / 65535 with lowest the
/// smallest log p but at least −24 (less likely tokens are stored as lowest). Other tokens are off by at most step / 2
/// (1.8e-4 in log p); the most likely token, which carries most of a row's probability, is exact, so a model compared
/// with its own base file shows a divergence of about 1e-6, not the 1e-4 a plain 16-bit grid would.
/// </summary>
public sealed class LogProbabilityFile
{
    private const string Magic = "SUIRONLP";
    private const int Version = 1;
    internal const float Floor = -24f;

    /// <summary>Tokens per chunk.</summary>
    public int Context { get; }
    /// <summary>Vocabulary size of the model that wrote the file.</summary>
    public int VocabSize { get; }
    /// <summary>Chunks the file holds.</summary>
    public int Chunks { get; }
    /// <summary>The evaluated token ids, chunk after chunk.</summary>
    public int[] Tokens { get; }

    private LogProbabilityFile(int context, int vocab, int chunks, int[] tokens)
    {
        Context = context;
        VocabSize = vocab;
        Chunks = chunks;
        Tokens = tokens;
    }

    /// <summary>Rows scored per chunk (positions ctx/2 … ctx − 2).</summary>
    public int RowsPerChunk => Context - 1 - Context / 2;

    /// <summary>Starts a file: the header and the tokens; rows follow through <see cref="WriteRow"/>.</summary>
    internal static BinaryWriter Create(string path, int context, int vocab, int chunks, ReadOnlySpan<int> tokens)
    {
        var writer = new BinaryWriter(File.Create(path), Encoding.ASCII, leaveOpen: false);
        writer.Write(Encoding.ASCII.GetBytes(Magic));
        writer.Write(Version);
        writer.Write(context);
        writer.Write(vocab);
        writer.Write(chunks);
        writer.Write(tokens.Length);
        foreach (int t in tokens) writer.Write(t);
        return writer;
    }

    /// <summary>Encodes one row of log-probabilities (see the type's layout).</summary>
    internal static void WriteRow(BinaryWriter writer, ReadOnlySpan<float> logProbabilities, Span<ushort> scratch)
    {
        float top = float.NegativeInfinity, lowest = 0;
        foreach (float l in logProbabilities)
        {
            top = MathF.Max(top, l);
            lowest = MathF.Min(lowest, l);
        }
        lowest = MathF.Max(lowest, Floor);
        float step = top > lowest ? (top - lowest) / 65535f : 1f;
        for (int i = 0; i < logProbabilities.Length; i++)
            scratch[i] = (ushort)Math.Clamp(MathF.Round((top - MathF.Max(logProbabilities[i], lowest)) / step), 0, 65535);
        writer.Write(top);
        writer.Write(step);
        writer.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(scratch[..logProbabilities.Length]));
    }

    /// <summary>Opens a file for reading: the header and tokens; rows come through <see cref="ReadRow"/> in order.</summary>
    public static (LogProbabilityFile File, BinaryReader Rows) Open(string path)
    {
        var reader = new BinaryReader(System.IO.File.OpenRead(path), Encoding.ASCII, leaveOpen: false);
        try
        {
            if (Encoding.ASCII.GetString(reader.ReadBytes(8)) != Magic)
                throw new InvalidDataException($"{path} is not a Suiron log-probability file (suiron perplexity --kl-divergence-base writes them).");
            int version = reader.ReadInt32();
            if (version != Version) throw new InvalidDataException($"{path} has version {version}; this build reads version {Version}.");
            int context = reader.ReadInt32(), vocab = reader.ReadInt32(), chunks = reader.ReadInt32(), count = reader.ReadInt32();
            if (context < 4 || vocab < 1 || chunks < 1 || count < (long)chunks * context || count > 1 << 28)
                throw new InvalidDataException($"{path}: implausible header (context {context}, vocabulary {vocab}, chunks {chunks}, tokens {count}).");
            long expected = 28L + 4L * count + (long)chunks * (context - 1 - context / 2) * (8 + 2L * vocab);
            if (reader.BaseStream.Length != expected)
                throw new InvalidDataException($"{path} holds {reader.BaseStream.Length} bytes; its header says {expected}.");
            var tokens = new int[count];
            for (int i = 0; i < count; i++) tokens[i] = reader.ReadInt32();
            return (new LogProbabilityFile(context, vocab, chunks, tokens), reader);
        }
        catch
        {
            reader.Dispose();
            throw;
        }
    }

    /// <summary>Decodes the next row into <paramref name="logProbabilities"/> (VocabSize values).</summary>
    internal void ReadRow(BinaryReader reader, Span<float> logProbabilities, Span<ushort> scratch)
    {
        float top = reader.ReadSingle(), step = reader.ReadSingle();
        reader.BaseStream.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(scratch[..VocabSize]));
        for (int i = 0; i < VocabSize; i++) logProbabilities[i] = top - scratch[i] * step;
    }
}
