using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using ICSharpCode.SharpZipLib.Tar;

namespace SandboxRunner.Boxes;

/// <summary>
/// How to build one of the runner's images: a build context carried inside this assembly, and a tag that
/// names what was built (the Codex version and a hash of the context), so a changed Dockerfile means a
/// new tag and a rebuild, and an unchanged one is found and reused.
/// </summary>
public sealed record ImageRecipe(string Tag, IReadOnlyDictionary<string, byte[]> Context, IReadOnlyDictionary<string, string> BuildArgs)
{
    private const string ResourcePrefix = "SandboxRunner.Images/";

    /// <summary>Where the runner's images keep their own init (images/codex/sandbox-init.c, static; see <see cref="SandboxRunner.Boxes.SealedInit"/>).</summary>
    public const string SealedInit = "/usr/local/sbin/sandbox-init";

    /// <summary>
    /// Labels the image is built with. The runner's own carry <see cref="RunnerLabels"/>, which is how
    /// <see cref="ImageCatalog"/> finds them (and the only images it ever removes).
    /// </summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    /// <summary>A tar file that is the whole build context (a repository at a commit), used instead of <see cref="Context"/>.</summary>
    public string? ContextFile { get; init; }

    /// <summary>The Dockerfile's path inside the context; null for <c>Dockerfile</c> at its root.</summary>
    public string? DockerfilePath { get; init; }

    /// <summary>The labels of a runner-built image: its role, the tag it was built as and, when it belongs to one repository, that repository's scope.</summary>
    public static IReadOnlyDictionary<string, string> RunnerLabels(string role, string tag, string? scope = null)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal) { [SandboxRunner.Boxes.Labels.Role] = role, [SandboxRunner.Boxes.Labels.Image] = tag };
        if (scope is not null)
        {
            labels[SandboxRunner.Boxes.Labels.Scope] = scope;
        }

        return labels;
    }

    /// <summary>The task image from <c>Dockerfile.codex</c>. The tarball's address is needed only to build it.</summary>
    public static ImageRecipe Codex(string codexVersion, string? tarballUrl = null)
    {
        var context = Embedded("codex");
        var args = new Dictionary<string, string> { ["CODEX_VERSION"] = codexVersion };
        if (tarballUrl is not null)
        {
            args["CODEX_TARBALL_URL"] = tarballUrl;
        }

        var tag = $"sandbox-runner/codex:{codexVersion}-{Hash(context, ImageRoles.Task)}";
        return new ImageRecipe(tag, context, args) { Labels = RunnerLabels(ImageRoles.Task, tag) };
    }

    /// <summary>The egress proxy of <c>network_policy: deny</c>, from <c>images/egress-proxy</c>.</summary>
    public static ImageRecipe EgressProxy()
    {
        var context = Embedded("egress-proxy");
        var tag = $"sandbox-runner/egress-proxy:{Hash(context, ImageRoles.Proxy)}";
        return new ImageRecipe(tag, context, new Dictionary<string, string>()) { Labels = RunnerLabels(ImageRoles.Proxy, tag) };
    }

    /// <summary>The build context as the tar stream the Docker build API takes.</summary>
    public Stream ContextTar()
    {
        if (ContextFile is not null)
        {
            return new FileStream(ContextFile, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        }

        var buffer = new MemoryStream();
        using (var tar = new TarOutputStream(buffer, Encoding.UTF8) { IsStreamOwner = false })
        {
            foreach (var (name, content) in Context.OrderBy(f => f.Key, StringComparer.Ordinal))
            {
                var entry = TarEntry.CreateTarEntry(name);
                entry.Size = content.Length;
                entry.TarHeader.Mode = name.EndsWith(".sh", StringComparison.Ordinal) ? 0x1ED : 0x1A4; // 0755 : 0644
                entry.ModTime = DateTime.UnixEpoch;
                tar.PutNextEntry(entry);
                tar.Write(content, 0, content.Length);
                tar.CloseEntry();
            }
        }

        buffer.Position = 0;
        return buffer;
    }

    private static Dictionary<string, byte[]> Embedded(string image)
    {
        var assembly = typeof(ImageRecipe).Assembly;
        var prefix = $"{ResourcePrefix}{image}/";
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            files[name[prefix.Length..]] = copy.ToArray();
        }

        return files.Count > 0 ? files : throw new InvalidOperationException($"the build context of '{image}' is missing from {assembly.GetName().Name}");
    }

    /// <summary>
    /// A hash of the context and the role label: an image of the same context built before it carried the
    /// runner's labels gets a new tag, so it is rebuilt labelled instead of reused unseen by the catalog.
    /// </summary>
    private static string Hash(IReadOnlyDictionary<string, byte[]> context, string role)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes($"{SandboxRunner.Boxes.Labels.Role}={role}\0"));
        foreach (var (name, content) in context.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            sha.AppendData(Encoding.UTF8.GetBytes(name + "\0"));
            sha.AppendData(content);
        }

        return Convert.ToHexString(sha.GetHashAndReset())[..12].ToLowerInvariant();
    }
}

/// <summary>An image build that failed; the message ends with the tail of the build log.</summary>
public sealed class ImageBuildException(string message) : Exception(message);
