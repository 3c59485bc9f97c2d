using System.CommandLine;
using System.Reflection;
using Suiron.Evaluation;
using Suiron.Gguf;
using Suiron.ModelQuantization;
using Suiron.Models;
using Suiron.Tests.Models;
using Suiron.Tokenization;
using Xunit;

namespace Suiron.Tests.Evaluation;

/// <summary>
/// <c>suiron imatrix</c>: the collected sums against activations computed here by hand from the GGUF (layer 0's
/// attention input is RMSNorm(embedding) · attn_norm), the chunking and counts llama-imatrix uses, the MoE per-expert
/// accounting against the router's own (dense) statistics, and the written file through our reader.
/// </summary>
public sealed class ImportanceMatrixComputationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("suiron-imatrix-compute-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Stories => SharedData.Path("models", "stories260K.gguf");

    [Fact]
    public void Layer0_attention_input_sums_equal_a_hand_computed_forward()
    {
        const int context = 32;
        using var file = GgufFile.Open(Stories);
        var tokenizer = Tokenizer.FromGguf(file);
        using var lm = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = context });
        var matrix = ImportanceMatrixComputation.Compute(lm, tokenizer, PerplexityTests.Story, new ImportanceMatrixOptions { ContextSize = context, Chunks = 3 });

        // The independent computation: the chunks as llama-imatrix cuts them, BOS in place of each chunk's first token.
        int[] tokens = tokenizer.Encode(PerplexityTests.Story, addSpecial: true);
        int chunks = Math.Min(3, tokens.Length / context);
        Assert.Equal(chunks, matrix.ChunkCount);
        Assert.Equal(context, matrix.ChunkSize);
        var embedding = Floats(file, "token_embd.weight");
        var norm = Floats(file, "blk.0.attn_norm.weight");
        float eps = file.GetFloat("llama.attention.layer_norm_rms_epsilon");
        int dim = norm.Length;
        var expected = new double[dim];
        for (int c = 0; c < chunks; c++)
        {
            for (int p = 0; p < context; p++)
            {
                int token = p == 0 ? tokenizer.Vocabulary.BosId : tokens[c * context + p];
                double meanSquare = 0;
                for (int j = 0; j < dim; j++) meanSquare += (double)embedding[token * dim + j] * embedding[token * dim + j];
                double scale = 1 / Math.Sqrt(meanSquare / dim + eps);
                for (int j = 0; j < dim; j++)
                {
                    double x = embedding[token * dim + j] * scale * norm[j];
                    expected[j] += x * x;
                }
            }
        }

        foreach (string name in new[] { "blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight" })
        {
            var entry = matrix.Entries[name];
            Assert.Equal([(float)(chunks * context)], entry.Counts);
            for (int j = 0; j < dim; j++)
                Assert.True(Math.Abs(entry.SumsOfSquares[j] - expected[j]) <= 1e-4 * expected[j] + 1e-6,
                    $"{name} column {j}: ours {entry.SumsOfSquares[j]} by hand {expected[j]}");
        }

        // Every matrix of every layer that multiplies activations, each over every token; nothing outside the layers.
        int layers = file.GetInt32("llama.block_count");
        string[] perLayer = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"];
        Assert.Equal(perLayer.SelectMany(t => Enumerable.Range(0, layers).Select(l => $"blk.{l}.{t}.weight")).Order(StringComparer.Ordinal), matrix.Entries.Keys);
        Assert.All(matrix.Entries.Values, e => Assert.Equal([(float)(chunks * context)], e.Counts));
        Assert.Equal(file.FindTensorInfo("blk.0.ffn_down.weight")!.Shape[0], matrix.Entries["blk.0.ffn_down.weight"].Columns);
    }

    [Fact]
    public void Experts_count_only_the_tokens_routed_to_them()
    {
        const int context = 32;
        using var file = GgufFile.Open(MoeModelBuilder.Qwen3MoeF32());
        var tokenizer = Tokenizer.FromGguf(file);
        using var lm = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = context });
        var matrix = ImportanceMatrixComputation.Compute(lm, tokenizer, PerplexityTests.Story, new ImportanceMatrixOptions { ContextSize = context, Chunks = 2 });
        int used = file.GetInt32("qwen3moe.expert_used_count"), experts = file.GetInt32("qwen3moe.expert_count");
        int tokens = 2 * context;

        for (int layer = 0; layer < file.GetInt32("qwen3moe.block_count"); layer++)
        {
            var router = matrix.Entries[$"blk.{layer}.ffn_gate_inp.weight"];
            var gate = matrix.Entries[$"blk.{layer}.ffn_gate_exps.weight"];
            var up = matrix.Entries[$"blk.{layer}.ffn_up_exps.weight"];
            var down = matrix.Entries[$"blk.{layer}.ffn_down_exps.weight"];
            Assert.Equal([(float)tokens], router.Counts);
            Assert.Equal(experts, gate.Counts.Length);
            Assert.Equal(used * tokens, gate.Counts.Sum());     // every token reaches k experts
            Assert.Equal(gate.Counts, down.Counts);
            Assert.Equal(gate.SumsOfSquares, up.SumsOfSquares); // gate and up read the same routed rows
            Assert.True(gate.Counts.Count(c => c > 0) > 1, "routing sent every token to one expert");
            // The experts read the router's input rows, each k times: summed over experts, k times the router's sums.
            int columns = router.Columns;
            for (int j = 0; j < columns; j++)
            {
                double overExperts = 0;
                for (int e = 0; e < experts; e++) overExperts += gate.SumsOfSquares[e * columns + j];
                Assert.True(Math.Abs(overExperts - used * router.SumsOfSquares[j]) <= 1e-4 * used * router.SumsOfSquares[j],
                    $"layer {layer} column {j}: experts {overExperts} vs {used} x router {router.SumsOfSquares[j]}");
            }
        }
    }

    [Fact]
    public void Command_writes_a_file_that_quantize_reads()
    {
        string text = Path.Combine(_dir, "calibration.txt");
        File.WriteAllText(text, PerplexityTests.Story);
        string output = Path.Combine(_dir, "stories.imatrix.gguf");
        Assert.Equal(0, Run("imatrix", "-m", Stories, "-f", text, "-o", output, "-c", "32", "--chunks", "2", "-t", "2"));
        var matrix = ImportanceMatrix.Load(output);
        Assert.Equal(["calibration.txt"], matrix.Datasets);
        Assert.Equal(2, matrix.ChunkCount);
        Assert.Equal(32, matrix.ChunkSize);
        Assert.Equal([64f], matrix.Entries["blk.0.attn_q.weight"].Counts);

        string dat = Path.Combine(_dir, "stories.imatrix.dat");
        Assert.Equal(0, Run("imatrix", "-m", Stories, "-f", text, "-o", dat, "--output-format", "dat", "-c", "32", "--chunks", "2", "-t", "2"));
        var legacy = ImportanceMatrix.Load(dat);
        Assert.True(legacy.IsLegacy);
        var fromGguf = matrix.WeightsFor("blk.1.ffn_down.weight")!;
        var fromDat = legacy.WeightsFor("blk.1.ffn_down.weight")!;
        for (int j = 0; j < fromGguf.Length; j++) Assert.Equal(fromGguf[j], fromDat[j], fromGguf[j] * 1e-6f);

        string quantized = Path.Combine(_dir, "q4km.gguf");
        ModelQuantizer.Quantize(Stories, quantized, ModelFileType.Q4_K_M, new QuantizeOptions { Threads = 2, ImportanceMatrix = matrix, ImportanceMatrixFile = output });
        using var q = GgufFile.Open(quantized);
        Assert.Equal(matrix.Entries.Count, q.GetInt32("quantize.imatrix.entries_count"));

        Assert.Equal(1, Run("imatrix", "-m", Stories, "-f", text, "-o", output, "-c", "4096"));      // too short a text: an error, no crash
        Assert.Equal(2, Run("imatrix", "-m", Stories, "-f", text, "-o", output, "-c", "8"));         // below llama-imatrix's 16-row batches
        Assert.Equal(1, Run("imatrix", "-m", Stories, "-f", Path.Combine(_dir, "absent.txt")));
    }

    private static unsafe float[] Floats(GgufFile file, string name)
    {
        var tensor = file.GetTensor(name);
        return new ReadOnlySpan<float>(tensor.Data, checked((int)(tensor.ByteLength / 4))).ToArray();
    }

    private static int Run(params string[] args)
    {
        var cli = Assembly.Load("Suiron.Cli");
        var create = cli.GetType("Suiron.Cli.ImatrixCommand", throwOnError: true)!.GetMethod("Create", BindingFlags.Public | BindingFlags.Static)!;
        var invoke = cli.GetType("Suiron.Cli.CliErrors", throwOnError: true)!.GetMethod("Invoke", BindingFlags.Public | BindingFlags.Static)!;
        var root = new RootCommand("test") { (Command)create.Invoke(null, null)! };
        return (int)invoke.Invoke(null, [root, args])!;
    }
}
