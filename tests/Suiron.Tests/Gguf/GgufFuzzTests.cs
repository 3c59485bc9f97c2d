using System.Diagnostics;
using System.Text;
using Suiron.Embeddings;
using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Models;
using Suiron.Tensors;
using Suiron.Tests.Models;
using Suiron.Tokenization;
using Xunit;
using Xunit.Abstractions;

namespace Suiron.Tests.Gguf;

/// <summary>
/// Mutated GGUF files of every architecture Suiron loads go through what <c>suiron run</c> and <c>serve</c> do with a
/// file — open, load (tokenizer, chat template, weights, scheduler), tokenize, one forward step (an embedding for
/// bert) — and may fail only with the documented exceptions: <see cref="GgufException"/> for a file that is malformed
/// or contradicts itself, <see cref="NotSupportedException"/> for a well-formed file that asks for something Suiron
/// does not implement. Anything else (an overflow, an out-of-memory from a hostile count, an index out of range) is a
/// bug. Seeds are fixed, so a CI failure replays; by hand, <c>SUIRON_FUZZ_SECONDS</c> runs longer (CI runs a fixed
/// count of mutants per model) and <c>SUIRON_FUZZ_SEED</c> picks other mutants.
/// </summary>
public sealed class GgufFuzzTests(ITestOutputHelper output) : IDisposable
{
    private const int CiMutantsPerModel = 300;
    private readonly string _dir = Directory.CreateTempSubdirectory("suiron-fuzz-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The models mutated: the real stories260K and a tiny random file of each other architecture (MoE and latent attention in Q8_0, a quarter of the bytes to rewrite per mutant).</summary>
    public static TheoryData<string> Models => new()
    {
        "stories260K", "llama", "qwen2", "qwen3", "ernie4_5", "hunyuan-dense", "qwen3moe", "glm4", "glm4moe",
        "ernie4_5-moe", "hunyuan-moe", "minimax-m2", "deepseek2-v3", "deepseek2-v2lite", "bert",
    };

    private static string ModelPath(string name) => name switch
    {
        "stories260K" => SharedData.Path("models", "stories260K.gguf"),
        "llama" => TinyModelBuilder.F32(new TinyModelSpec("fuzz-llama", "llama", Embedding: 64, FeedForward: 128)),
        "qwen2" => TinyModelBuilder.F32(new TinyModelSpec("fuzz-qwen2", "qwen2", Embedding: 64, FeedForward: 128, RopeScaling: "yarn", RopeScalingFactor: 4f, OriginalContext: 64)),
        "qwen3" => TinyModelBuilder.F32(new TinyModelSpec("fuzz-qwen3", "qwen3", Embedding: 64, KeyLength: 32, FeedForward: 128, TiedOutput: true)),
        "ernie4_5" => TinyModelBuilder.F32(new TinyModelSpec("fuzz-ernie4_5", "ernie4_5", Embedding: 64, FeedForward: 128)),
        "hunyuan-dense" => TinyModelBuilder.F32(new TinyModelSpec("fuzz-hunyuan-dense", "hunyuan-dense", Embedding: 64, FeedForward: 128, TiedOutput: true)),
        "qwen3moe" => MoeModelBuilder.Quantized(MoeModelBuilder.Qwen3MoeF32(), TensorType.Q8_0),
        "glm4" => MoeModelBuilder.Quantized(MoeModelBuilder.Glm4F32(), TensorType.Q8_0),
        "glm4moe" => MoeModelBuilder.Quantized(MoeModelBuilder.Glm4MoeF32(queryKeyNorm: true), TensorType.Q8_0),
        "ernie4_5-moe" => MoeModelBuilder.Quantized(MoeModelBuilder.Ernie4_5MoeF32(), TensorType.Q8_0),
        "hunyuan-moe" => MoeModelBuilder.Quantized(MoeModelBuilder.HunyuanMoeF32(), TensorType.Q8_0),
        "minimax-m2" => MoeModelBuilder.Quantized(MoeModelBuilder.MiniMaxM2F32(), TensorType.Q8_0),
        "deepseek2-v3" => MoeModelBuilder.Ours(MoeModelBuilder.DeepSeekV3, TensorType.Q8_0),
        "deepseek2-v2lite" => MoeModelBuilder.Ours(MoeModelBuilder.DeepSeekV2Lite, TensorType.Q8_0),
        "bert" => EmbeddingModelBuilder.Bert(pooling: 1),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void MutatedFilesFailOnlyWithTheDocumentedExceptions(string model)
    {
        string source = ModelPath(model);
        // The unmutated file must pass, or every mutant's rejection would prove nothing.
        Exercise(source);

        var image = GgufImage.Read(source);
        // SUIRON_FUZZ_SEED explores other mutants by hand; CI always replays the same ones.
        int seed = StableSeed(model) ^ (int.TryParse(Environment.GetEnvironmentVariable("SUIRON_FUZZ_SEED"), out int extra) ? extra : 0);
        var random = new Random(seed);
        // The dense files load in about a millisecond, the MoE and latent-attention ones in 5–15: as many mutants as
        // fit a few seconds of CI each (about 6,000 in all, a minute on two cores).
        var budget = FuzzBudget.FromEnvironment(new FileInfo(source).Length < 4 << 20 ? 1000 : CiMutantsPerModel);
        var failures = new List<string>();
        var outcomes = new Dictionary<string, int>();
        string path = Path.Combine(_dir, model + ".gguf");
        int mutants = 0;
        var clock = Stopwatch.StartNew();
        while (budget.Continue(mutants, clock.Elapsed))
        {
            var mutant = image.Clone();
            var applied = new List<string>();
            int count = 1 + random.Next(3);
            for (int i = 0; i < count; i++) applied.Add(GgufMutator.Apply(mutant, random));
            byte[] header = mutant.SerializeHeader();
            if (random.Next(8) == 0) applied.Add(GgufMutator.FlipBytes(header, random));
            using (var stream = new FileStream(path, FileMode.Create, FileAccess.Write))
            {
                stream.Write(header);
                stream.Write(mutant.Data);
            }
            mutants++;
            string outcome;
            try
            {
                Exercise(path);
                outcome = "accepted";
            }
            catch (GgufException)
            {
                outcome = nameof(GgufException);
            }
            catch (NotSupportedException)
            {
                outcome = nameof(NotSupportedException);
            }
            catch (Exception e)
            {
                outcome = e.GetType().Name;
                if (failures.Count < 20)
                    failures.Add($"{string.Join(" + ", applied)}\n    → {e.GetType().Name}: {e.Message}\n    at {e.StackTrace?.Split('\n').FirstOrDefault()?.Trim()}");
            }
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
        }
        output.WriteLine($"{model}: {mutants} mutants in {clock.Elapsed.TotalSeconds:F1} s: {string.Join(", ", outcomes.OrderByDescending(p => p.Value).Select(p => $"{p.Key} {p.Value}"))}");
        Assert.True(failures.Count == 0, $"{failures.Count} mutant(s) of {model} escaped as other exceptions:\n" + string.Join("\n", failures));
        Assert.True(outcomes.GetValueOrDefault(nameof(GgufException)) > 0, "no mutant was rejected: the mutator is not reaching the loader");
    }

    /// <summary>Found by a 10-minute run: an empty token list made the tokenizer emit -1 for every character.</summary>
    [Fact]
    public void AnEmptyVocabularyIsRefusedByName()
    {
        var image = GgufImage.Read(SharedData.Path("models", "stories260K.gguf"));
        int at = image.Metadata.FindIndex(p => p.Key == "tokenizer.ggml.tokens");
        image.Metadata[at] = KeyValuePair.Create("tokenizer.ggml.tokens", new GgufValue(GgufValueType.Array, Array.Empty<string>(), GgufValueType.String));
        string path = Path.Combine(_dir, "empty-vocabulary.gguf");
        image.WriteTo(path);
        var e = Assert.Throws<GgufException>(() => Exercise(path));
        Assert.Contains("tokenizer.ggml.tokens", e.Message);
    }

    /// <summary>What a server or <c>suiron run</c> does with a file, bounded: open, load, tokenize, one step.</summary>
    private static void Exercise(string path)
    {
        using var file = GgufFile.Open(path);
        var options = new ModelOptions { Threads = 1, ContextSize = 32 };
        if (file.Architecture == Bert.ArchitectureName)
        {
            var tokenizer = Tokenizer.FromGguf(file);
            using var embedder = EmbeddingModelLoader.Load(file, options);
            int[] tokens = tokenizer.Encode("Hello, world", addSpecial: true);
            if (tokens.Length == 0 || tokens.Length > embedder.MaxTokens) return;
            if (embedder.Pooling == EmbeddingPooling.None) embedder.EmbedTokens(tokens);
            else embedder.Embed(tokens);
            return;
        }
        file.Dispose();
        using var local = LocalModel.Load(path, new LocalModelOptions { Model = options, Slots = 1, QueueLimit = 1 });
        string prompt = local.Chat.Render(new System.Text.Json.Nodes.JsonArray(new System.Text.Json.Nodes.JsonObject { ["role"] = "user", ["content"] = "Once upon a time" }));
        int[] ids = local.Chat.Encode(prompt);
        if (ids.Length == 0) ids = local.Tokenizer.Encode("Once", addSpecial: false);
        if (ids.Length == 0) return;
        var step = ids.AsSpan(0, Math.Min(ids.Length, 8));
        var cache = local.Model.CreateCache(16);
        var logits = new float[local.Model.Info.VocabSize];
        local.Model.Forward(step, cache, logits);
    }

    private static int StableSeed(string text)
    {
        int hash = 17;
        foreach (char c in text) hash = hash * 31 + c;
        return hash;
    }
}

/// <summary>How long a fuzz run lasts: a fixed count in CI, or <c>SUIRON_FUZZ_SECONDS</c> of wall time when set.</summary>
internal readonly record struct FuzzBudget(int Count, TimeSpan? Time)
{
    public static FuzzBudget FromEnvironment(int ciCount)
        => double.TryParse(Environment.GetEnvironmentVariable("SUIRON_FUZZ_SECONDS"), System.Globalization.CultureInfo.InvariantCulture, out double seconds) && seconds > 0
            ? new FuzzBudget(int.MaxValue, TimeSpan.FromSeconds(seconds))
            : new FuzzBudget(ciCount, null);

    public bool Continue(int done, TimeSpan elapsed) => Time is { } limit ? elapsed < limit : done < Count;
}

/// <summary>
/// One random change to a <see cref="GgufImage"/>, aimed where loaders break: integers at type and size boundaries,
/// non-finite floats, strings that name the wrong thing, arrays shortened or retyped, keys removed or retyped, a
/// different architecture under the same tensors, tensors removed, renamed, reshaped, retyped or moved.
/// </summary>
internal static class GgufMutator
{
    private static readonly long[] Integers =
    [
        0, 1, 2, 3, -1, -2, 7, 8, 31, 32, 33, 63, 64, 255, 256, 1023, 1024, 4096, 65535, 65536, 1 << 20,
        int.MaxValue, (long)int.MaxValue + 1, uint.MaxValue, (long)uint.MaxValue + 1, 1L << 40, long.MaxValue, long.MinValue, int.MinValue,
    ];

    private static readonly float[] Floats = [0f, -0f, -1f, 1f, 1e-30f, 1e30f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, float.Epsilon, float.MaxValue, 0.5f, 2f];

    private static readonly string[] Strings =
    [
        "", "llama", "qwen2", "qwen3", "qwen3moe", "deepseek2", "glm4", "glm4moe", "bert", "ernie4_5", "ernie4_5-moe", "hunyuan-dense",
        "hunyuan-moe", "minimax-m2", "gpt2", "llama-bpe", "spm", "bpe", "wpm", "yarn", "linear", "none", "nonsense", "\u0000", "\uFFFD\uD800",
        "{% for x in messages %}{{ x.content }}{% endfor %}", "{{ raise_exception('no') }}", "{% if %}", new string('x', 5000), "<0xZZ>",
    ];

    public static string Apply(GgufImage image, Random random)
    {
        int choice = random.Next(100);
        if (choice < 45 && image.Metadata.Count > 0) return MutateValue(image, random);
        if (choice < 52 && image.Metadata.Count > 0)
        {
            int i = random.Next(image.Metadata.Count);
            string key = image.Metadata[i].Key;
            image.Metadata.RemoveAt(i);
            return $"remove {key}";
        }
        if (choice < 57)
        {
            string arch = Strings[1 + random.Next(13)];
            Set(image, "general.architecture", new GgufValue(GgufValueType.String, arch));
            return $"architecture → {arch}";
        }
        if (choice < 62)
        {
            string key = RandomHyperParameterKey(image, random);
            Set(image, key, new GgufValue(GgufValueType.UInt32, (uint)Integers[random.Next(Integers.Length)]));
            return $"add {key}";
        }
        if (image.Tensors.Count == 0) return "none";
        return MutateTensor(image, random);
    }

    /// <summary>Overwrites a few random header bytes after serialization (the lengths and counts the structured mutations keep consistent).</summary>
    public static string FlipBytes(byte[] header, Random random)
    {
        int flips = 1 + random.Next(3);
        for (int k = 0; k < flips; k++) header[24 + random.Next(header.Length - 24)] = (byte)random.Next(256);
        return $"flip {flips} header bytes";
    }

    private static string RandomHyperParameterKey(GgufImage image, Random random)
    {
        string arch = image.Metadata.FirstOrDefault(p => p.Key == "general.architecture").Value?.Value as string ?? "llama";
        string[] names =
        [
            "expert_count", "expert_used_count", "expert_feed_forward_length", "expert_shared_count", "expert_group_count", "expert_group_used_count",
            "leading_dense_block_count", "nextn_predict_layers", "interleave_moe_layer_step", "attention.key_length", "attention.value_length",
            "attention.q_lora_rank", "attention.kv_lora_rank", "rope.dimension_count", "rope.scaling.original_context_length", "expert_gating_func",
            "pooling_type", "attention.sliding_window", "expert_shared_feed_forward_length", "attention.key_length_mla", "attention.value_length_mla",
        ];
        return arch + "." + names[random.Next(names.Length)];
    }

    private static void Set(GgufImage image, string key, GgufValue value)
    {
        int i = image.Metadata.FindIndex(p => p.Key == key);
        if (i >= 0) image.Metadata[i] = KeyValuePair.Create(key, value);
        else image.Metadata.Add(KeyValuePair.Create(key, value));
    }

    private static string MutateValue(GgufImage image, Random random)
    {
        int i = random.Next(image.Metadata.Count);
        var (key, value) = image.Metadata[i];
        GgufValue replacement;
        string what;
        int kind = random.Next(10);
        if (value.Type == GgufValueType.Array && kind < 6)
            (replacement, what) = MutateArray(value, random);
        else if (kind < 7)
        {
            long n = random.Next(3) == 0 && value.Type is not (GgufValueType.String or GgufValueType.Array or GgufValueType.Bool or GgufValueType.Float32 or GgufValueType.Float64)
                ? Nudge(value.Value is ulong big ? unchecked((long)big) : value.AsInt64(), random)
                : Integers[random.Next(Integers.Length)];
            var type = random.Next(4) switch { 0 => GgufValueType.Int32, 1 => GgufValueType.UInt64, 2 => GgufValueType.Int64, _ => GgufValueType.UInt32 };
            object boxed = type switch
            {
                GgufValueType.Int32 => unchecked((int)n),
                GgufValueType.UInt64 => unchecked((ulong)n),
                GgufValueType.Int64 => n,
                _ => unchecked((uint)n),
            };
            replacement = new GgufValue(type, boxed);
            what = $"{type} {boxed}";
        }
        else if (kind < 8)
        {
            float f = Floats[random.Next(Floats.Length)];
            replacement = new GgufValue(GgufValueType.Float32, f);
            what = $"float {f}";
        }
        else if (kind < 9)
        {
            string s = Strings[random.Next(Strings.Length)];
            replacement = new GgufValue(GgufValueType.String, s);
            what = $"string '{(s.Length > 20 ? s[..20] + "…" : s)}'";
        }
        else
        {
            replacement = random.Next(2) == 0 ? new GgufValue(GgufValueType.Bool, true) : new GgufValue(GgufValueType.Array, new uint[] { 1, 2 }, GgufValueType.UInt32);
            what = replacement.Type.ToString();
        }
        image.Metadata[i] = KeyValuePair.Create(key, replacement);
        return $"{key} = {what}";
    }

    private static long Nudge(long value, Random random) => random.Next(5) switch
    {
        0 => value + 1,
        1 => value - 1,
        2 => value * 2,
        3 => value / 2,
        _ => value * 1000,
    };

    private static (GgufValue, string) MutateArray(GgufValue value, Random random)
    {
        var array = (Array)value.Value;
        switch (random.Next(5))
        {
            case 0:
            {
                int length = array.Length == 0 ? 0 : random.Next(array.Length);
                var shorter = Array.CreateInstance(array.GetType().GetElementType()!, length);
                Array.Copy(array, shorter, length);
                return (new GgufValue(GgufValueType.Array, shorter, value.ElementType), $"array cut to {length} of {array.Length}");
            }
            case 1:
                return (new GgufValue(GgufValueType.Array, new int[array.Length], GgufValueType.Int32), $"array of {array.Length} int32 zeros");
            case 2:
                return (new GgufValue(GgufValueType.Array, Enumerable.Repeat("", array.Length).ToArray(), GgufValueType.String), $"array of {array.Length} empty strings");
            case 3 when array.Length > 0:
            {
                var copy = (Array)array.Clone();
                int at = random.Next(copy.Length);
                object? element = copy.GetValue(at);
                object? changed = element switch
                {
                    string => Strings[random.Next(Strings.Length)],
                    int => unchecked((int)Integers[random.Next(Integers.Length)]),
                    uint => unchecked((uint)Integers[random.Next(Integers.Length)]),
                    float => Floats[random.Next(Floats.Length)],
                    _ => element,
                };
                copy.SetValue(changed, at);
                return (new GgufValue(GgufValueType.Array, copy, value.ElementType), $"array[{at}] = {changed}");
            }
            default:
            {
                int length = array.Length * 2 + 1;
                var longer = Array.CreateInstance(array.GetType().GetElementType()!, length);
                Array.Copy(array, longer, array.Length);
                if (longer is string[] strings) for (int i = array.Length; i < length; i++) strings[i] = "t" + i;
                return (new GgufValue(GgufValueType.Array, longer, value.ElementType), $"array grown to {length}");
            }
        }
    }

    private static readonly uint[] TensorTypeNumbers = [0, 1, 2, 3, 6, 7, 8, 10, 11, 12, 13, 14, 20, 23, 30, 39, 99];

    private static string MutateTensor(GgufImage image, Random random)
    {
        int i = random.Next(image.Tensors.Count);
        var t = image.Tensors[i];
        switch (random.Next(7))
        {
            case 0:
                image.Tensors.RemoveAt(i);
                return $"remove tensor {t.Name}";
            case 1:
            {
                var other = image.Tensors[random.Next(image.Tensors.Count)];
                image.Tensors[i] = t with { Name = other.Name == t.Name ? t.Name.Replace("blk.0.", "blk.9.", StringComparison.Ordinal) : t.Name + ".x" };
                return $"rename tensor {t.Name}";
            }
            case 2:
            {
                var shape = (ulong[])t.Shape.Clone();
                int d = random.Next(shape.Length);
                shape[d] = random.Next(4) switch { 0 => shape[d] + 1, 1 => Math.Max(1, shape[d] / 2), 2 => shape[d] * 2, _ => 1 };
                image.Tensors[i] = t with { Shape = shape };
                return $"reshape {t.Name} to [{string.Join(", ", shape)}]";
            }
            case 3:
            {
                ulong[] shape = random.Next(2) == 0 ? [.. t.Shape.Reverse()] : [.. t.Shape, 1];
                if (shape.Length > 4) shape = [t.Shape.Aggregate(1UL, (a, b) => a * b)];
                image.Tensors[i] = t with { Shape = shape };
                return $"reshape {t.Name} to [{string.Join(", ", shape)}]";
            }
            case 4:
            {
                uint type = TensorTypeNumbers[random.Next(TensorTypeNumbers.Length)];
                image.Tensors[i] = t with { Type = type };
                return $"retype {t.Name} to {type}";
            }
            case 5:
            {
                ulong offset = random.Next(3) switch { 0 => 0, 1 => t.Offset + 32, _ => (ulong)image.Data.Length / 32 * 32 };
                image.Tensors[i] = t with { Offset = offset };
                return $"move {t.Name} to {offset}";
            }
            default:
            {
                // A tensor swapped with another of the same rank: shapes that fit the rank but not the hyper-parameters.
                int j = random.Next(image.Tensors.Count);
                var other = image.Tensors[j];
                image.Tensors[i] = t with { Shape = other.Shape, Type = other.Type, Offset = other.Offset };
                return $"give {t.Name} the shape and data of {other.Name}";
            }
        }
    }
}
