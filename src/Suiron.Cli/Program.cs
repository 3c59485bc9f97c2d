using Suiron.Gguf;
using var f = GgufFile.Open(args[0]);
Console.WriteLine($"v{f.Version} align {f.Alignment} data@{f.DataOffset}");
foreach (var k in f.MetadataKeys) { var v = f.Metadata[k]; Console.WriteLine($"{k} = {(v.IsArray ? $"[{v.ElementType} x {v.ArrayLength}] " + (v.Value is string[] s ? string.Join(" | ", s.Take(8)) : v.Value is Array a ? string.Join(",", a.Cast<object>().Take(8)) : "") : v.ToString())}"); }
foreach (var t in f.Tensors.Take(20)) Console.WriteLine($"{t.Name} {t.Type} [{string.Join(",", t.Shape)}] @{t.Offset}");
