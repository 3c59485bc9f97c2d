// Sentence embeddings through Microsoft.Extensions.AI's IEmbeddingGenerator (a bge/MiniLM GGUF, or any decoder model).
// dotnet run --project samples/Embeddings -- bge-small-en-v1.5-f16.gguf
using Microsoft.Extensions.AI;
using Suiron.Embeddings;

string path = args.Length > 0 ? args[0] : "bge-small-en-v1.5-f16.gguf";
using SuironEmbeddingGenerator embedder = SuironEmbeddingGenerator.Load(path);
string[] texts = ["東京の天気", "Tokyo weather", "A recipe for bread"];
GeneratedEmbeddings<Embedding<float>> vectors = await embedder.GenerateAsync(texts);
Console.WriteLine($"{vectors.Count} vectors of {vectors[0].Vector.Length} dimensions");

// The vectors are L2-normalized: their dot product is the cosine similarity.
static float Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
{
    float sum = 0;
    for (int i = 0; i < a.Length; i++) sum += a[i] * b[i];
    return sum;
}
for (int i = 1; i < texts.Length; i++)
    Console.WriteLine($"cosine({texts[0]}, {texts[i]}) = {Cosine(vectors[0].Vector.Span, vectors[i].Vector.Span):F3}");
