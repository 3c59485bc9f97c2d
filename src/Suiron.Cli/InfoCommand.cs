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
        var path = new Argument<FileInfo>("model") { Description = "GGUF model file" };
        var cacheTypes = new CacheTypeOptions();
        var command = new Command("info", "Describe a GGUF model (the KV-cache cost for the cache types given, f16 by default)") { path, cacheTypes.Key, cacheTypes.Value };
        command.SetAction(result => CliErrors.Guard(() =>
        {
            var fileInfo = result.GetValue(path)!;
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
                WriteRecord(o, info.HyperParameters, "  ");
                o.WriteLine($"parameters:     {info.ParameterCount:N0} ({info.ParameterCount / 1e6:F2} M)");
                if (info.ActiveParameterCount is { } active)
                    o.WriteLine($"active/token:   {active:N0} ({active / 1e6:F2} M, {100.0 * active / info.ParameterCount:F1}% of the total)");
                o.WriteLine($"context:        {info.ContextLength} tokens (trained)");
                o.WriteLine($"kv cache:       {info.KvCacheBytesPerToken:N0} bytes per token (k {KvCacheTypes.Name(info.KeyCacheType)}, v {KvCacheTypes.Name(info.ValueCacheType)}); {Bytes(info.KvCacheBytesPerToken * (long)info.ContextLength)} at the full trained context");
                o.WriteLine($"kv rotation:    {info.AttentionRotation}");
                if (info.RecurrentLayerCount > 0)
                    o.WriteLine($"recurrent:      {info.RecurrentLayerCount} of {info.HyperParameters.LayerCount} layers keep a fixed state instead of keys and values: " +
                                $"{Bytes(info.RecurrentBytesPerSequence)} per sequence (F32), the same again per prefix-reuse snapshot");
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

    /// <summary>One "name: value" line per property; nested records indented below their name.</summary>
    private static void WriteRecord(TextWriter o, object record, string indent)
    {
        foreach (var property in record.GetType().GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance))
        {
            if (property.GetIndexParameters().Length > 0) continue;
            object? value = property.GetValue(record);
            if (value is null) continue;
            bool nested = value.GetType() is { IsClass: true } t && t != typeof(string) && !t.IsArray && t.Namespace?.StartsWith("Suiron") == true;
            if (nested)
            {
                o.WriteLine($"{indent}{property.Name}:");
                WriteRecord(o, value, indent + "  ");
            }
            else
            {
                string text = value is Array a ? "[" + string.Join(", ", a.Cast<object>()) + "]" : Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "";
                o.WriteLine($"{indent}{property.Name,-24} {text}");
            }
        }
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
