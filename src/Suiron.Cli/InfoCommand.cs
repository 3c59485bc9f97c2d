using System.CommandLine;
using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Models;
using Suiron.Tokenization;

namespace Suiron.Cli;

/// <summary><c>suiron info</c>: what a GGUF file holds — architecture, hyper-parameters, tokenizer, tensor types, KV-cache cost.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        // The file may be named positionally (`suiron info model.gguf`) or by -m as every other command takes it.
        var path = new Argument<FileInfo?>("model") { Description = "GGUF model file", Arity = ArgumentArity.ZeroOrOne };
        var model = new Option<FileInfo?>("--model", "-m") { Description = "GGUF model file (instead of the positional argument)" };
        var cacheTypes = new CacheTypeOptions();
        var command = new Command("info", "Describe a GGUF model (the KV-cache cost for the cache types given, f16 by default)") { path, model, cacheTypes.Key, cacheTypes.Value };
        command.SetAction(result => CliErrors.Guard(() =>
        {
            FileInfo? positional = result.GetValue(path), named = result.GetValue(model);
            if ((positional is null) == (named is null)) throw new UsageException("Give the model file once: `suiron info FILE` or `suiron info -m FILE`.");
            var fileInfo = (positional ?? named)!;
            using var file = GgufFile.Open(fileInfo.FullName);
            var o = Console.Out;
            o.WriteLine($"file:           {fileInfo.FullName} ({Bytes(file.FileLength)})");
            o.WriteLine($"format:         GGUF v{file.Version}, {file.Tensors.Count} tensors, {file.Metadata.Count} metadata keys, alignment {file.Alignment}");
            if (file.GetStringOrNull("general.name") is { } name) o.WriteLine($"name:           {name}");
            o.WriteLine($"architecture:   {file.GetStringOrNull("general.architecture") ?? "(none)"}");

            if (file.Tensors.Count > 0)
            {
                using var model = ModelLoader.Load(file, new ModelOptions { Threads = 1, KeyCacheType = cacheTypes.KeyType(result), ValueCacheType = cacheTypes.ValueType(result) });
                var info = model.Info;
                o.WriteLine("hyper-parameters:");
                WriteHyperParameters(o, info.HyperParameters);
                o.WriteLine($"parameters:     {info.ParameterCount:N0} ({info.ParameterCount / 1e6:F2} M)");
                if (info.ActiveParameterCount is { } active)
                    o.WriteLine($"active/token:   {active:N0} ({active / 1e6:F2} M, {100.0 * active / info.ParameterCount:F1}% of the total)");
                o.WriteLine($"context:        {info.ContextLength} tokens (trained)");
                o.WriteLine($"kv cache:       {info.KvCacheBytesPerToken:N0} bytes per token (k {KvCacheTypes.Name(info.KeyCacheType)}, v {KvCacheTypes.Name(info.ValueCacheType)}); {Bytes(info.KvCacheBytesPerToken * (long)info.ContextLength)} at the full trained context");
                o.WriteLine($"kv rotation:    {info.AttentionRotation}");
                if (info.RecurrentLayerCount > 0)
                    o.WriteLine($"recurrent:      {info.RecurrentLayerCount} of {info.HyperParameters.LayerCount} layers keep a fixed state instead of keys and values: " +
                                $"{Bytes(info.RecurrentBytesPerSequence)} per sequence (F32), the same again per prefix-reuse snapshot");
                if (model is IMultiTokenPredictor { HasPredictionHead: true })
                    o.WriteLine("mtp:            a multi-token-prediction (NextN) block drafts for speculative decoding: --spec mtp");
                if (info.FullKvBytesPerToken is { } full)
                    o.WriteLine($"                uncompressed K/V would take {full:N0} bytes per token ({(double)full / info.KvCacheBytesPerToken:F1}× more)");
            }

            if (file.Contains("tokenizer.ggml.model"))
            {
                var vocab = Vocabulary.FromGguf(file);
                o.WriteLine($"tokenizer:      {file.GetString("tokenizer.ggml.model")} ({vocab.Model}), pre-tokenizer '{vocab.PreTokenizer}', {vocab.Count} tokens, " +
                            $"{file.Metadata.GetValueOrDefault("tokenizer.ggml.merges")?.ArrayLength ?? 0} merges");
                o.WriteLine($"special tokens: bos {Token(vocab, vocab.BosId)}, eos {Token(vocab, vocab.EosId)}, eot {Token(vocab, vocab.EotId)}, add_bos {vocab.AddBos}, add_eos {vocab.AddEos}; " +
                            $"end of generation: {string.Join(", ", vocab.EndOfGeneration.Order().Select(id => Token(vocab, id)))}");
                if (file.Contains("tokenizer.chat_template")) o.WriteLine($"chat template:  yes ({file.GetString("tokenizer.chat_template").Length} chars)");
            }

            o.WriteLine("tensor types:");
            foreach (var group in file.Tensors.GroupBy(t => t.Type).OrderByDescending(g => g.Sum(t => t.ByteSize)))
                o.WriteLine($"  {group.Key,-6} {group.Count(),5} tensors {group.Sum(t => t.ElementCount),16:N0} elements {Bytes(group.Sum(t => t.ByteSize)),12}");
            return CliErrors.Ok;
        }));
        return command;
    }

    /// <summary>One "name value" line per hyper-parameter, spelled out (no reflection, so the native AOT binary prints them too).</summary>
    private static void WriteHyperParameters(TextWriter o, TransformerHyperParameters h)
    {
        void Line(string indent, string name, object value) =>
            o.WriteLine($"{indent}{name,-24} {Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)}");
        Line("  ", nameof(h.Architecture), h.Architecture);
        Line("  ", nameof(h.ContextLength), h.ContextLength);
        Line("  ", nameof(h.EmbeddingLength), h.EmbeddingLength);
        Line("  ", nameof(h.LayerCount), h.LayerCount);
        Line("  ", nameof(h.FeedForwardLength), h.FeedForwardLength);
        Line("  ", nameof(h.HeadCount), h.HeadCount);
        Line("  ", nameof(h.KvHeadCount), h.KvHeadCount);
        Line("  ", nameof(h.KeyLength), h.KeyLength);
        Line("  ", nameof(h.ValueLength), h.ValueLength);
        Line("  ", nameof(h.RmsNormEpsilon), h.RmsNormEpsilon);
        Line("  ", nameof(h.GroupSize), h.GroupSize);
        o.WriteLine("  Rope:");
        var rope = h.Rope;
        Line("    ", nameof(rope.Dimensions), rope.Dimensions);
        Line("    ", nameof(rope.FrequencyBase), rope.FrequencyBase);
        Line("    ", nameof(rope.ScalingType), rope.ScalingType);
        Line("    ", nameof(rope.FrequencyScale), rope.FrequencyScale);
        Line("    ", nameof(rope.OriginalContextLength), rope.OriginalContextLength);
        Line("    ", nameof(rope.ExtrapolationFactor), rope.ExtrapolationFactor);
        Line("    ", nameof(rope.AttentionFactor), rope.AttentionFactor);
        Line("    ", nameof(rope.BetaFast), rope.BetaFast);
        Line("    ", nameof(rope.BetaSlow), rope.BetaSlow);
    }

    private static string Token(Vocabulary vocab, int id) => id < 0 ? "none" : $"{id} '{vocab.Tokens[id]}'";

    internal static string Bytes(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):F2} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):F2} MiB",
        >= 1L << 10 => $"{bytes / (double)(1L << 10):F1} KiB",
        _ => $"{bytes} B",
    };
}
