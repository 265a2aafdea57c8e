using System.Security.Cryptography;
using SandboxRunner.Boxes;

namespace SandboxRunner.Testcontainers;

/// <summary>
/// The scripted model's image: the fake Codex CLI (images/fake-codex, a Perl script on debian:bookworm-slim),
/// whose build context ships inside this assembly. Tagged by a hash of that context, so it is built once
/// per content and reused.
/// </summary>
internal static class FakeCodexImage
{
    private const string Prefix = "SandboxRunner.Testcontainers.FakeCodex/";

    public static ImageRecipe Recipe()
    {
        var assembly = typeof(FakeCodexImage).Assembly;
        var context = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var bytes = new MemoryStream();
            stream.CopyTo(bytes);
            context[name[Prefix.Length..]] = bytes.ToArray();
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (path, bytes) in context)
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(path + "\0"));
            hash.AppendData(bytes);
        }

        var tag = $"sandbox-runner/fake-codex:{Convert.ToHexStringLower(hash.GetHashAndReset())[..12]}";
        return new ImageRecipe(tag, context, new Dictionary<string, string>());
    }
}
