// Raw generation: open a GGUF file, tokenize, and stream the continuation token by token.
// dotnet run --project samples/Generation -- ../shared/models/stories260K.gguf
using Suiron.Gguf;
using Suiron.Inference;
using Suiron.Models;
using Suiron.Sampling;
using Suiron.Tokenization;

string path = args.Length > 0 ? args[0] : "stories260K.gguf";
using GgufFile file = GgufFile.Open(path);
Tokenizer tokenizer = Tokenizer.FromGguf(file);
using ILanguageModel model = ModelLoader.Load(file, new ModelOptions { Threads = Environment.ProcessorCount });

int[] prompt = tokenizer.Encode("Once upon a time", addSpecial: true); // BOS first, as the model asks
KvCache cache = model.CreateCache(prompt.Length + 48);
var generator = new Generator(model, tokenizer);
var options = new GenerationOptions { MaxTokens = 48, Sampling = new SamplingOptions { Temperature = 0 } }; // greedy

foreach (GenerationStep step in generator.Generate(prompt, options, cache))
    Console.Write(step.Text);
Console.WriteLine();
Console.Error.WriteLine($"{generator.LastStats!.GeneratedTokens} tokens, {generator.LastStats.TokensPerSecond:F1} tokens/s");
