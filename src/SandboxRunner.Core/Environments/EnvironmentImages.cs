using System.Security.Cryptography;
using System.Text;
using SandboxRunner.Git;
using SandboxRunner.Boxes;
using SandboxRunner.Configuration;

namespace SandboxRunner.Environments;

/// <summary>An environment that cannot be built or set up; its message names what failed and the fix.</summary>
/// <summary>
/// An environment that cannot be built or set up: the field of the config at fault (<c>environment.base_image</c>,
/// <c>environments.node.setup[1]</c>) and the rule, which says what failed and the fix. Thrown with the
/// <c>environment</c> section when the thrower does not know which environment it is; whoever knows names it with
/// <see cref="In"/>, so the message names the field once.
/// </summary>
public partial class EnvironmentException : Exception
{
    public EnvironmentException(string? key, string rule, string section = "environment")
        : base(key is null ? $"{section}: {rule}" : $"{section}.{key}: {rule}")
    {
        (Key, Rule, Section) = (key, rule, section);
    }

    /// <summary>A message that starts with its field (<c>environment.dockerfile: …</c>, <c>environments.py.cache_keys[0]: …</c>), or a bare rule.</summary>
    public EnvironmentException(string message)
        : this(Parse(message).Key, Parse(message).Rule, Parse(message).Section)
    {
    }

    /// <summary>The field inside the environment (<c>base_image</c>, <c>setup[0]</c>), or null for the environment as a whole.</summary>
    public string? Key { get; }

    public string Rule { get; }

    /// <summary>The environment's own field: <c>environment</c> or <c>environments.NAME</c>.</summary>
    public string Section { get; }

    /// <summary>The whole field: <c>environment.base_image</c>, <c>environments.node</c>.</summary>
    public string Field => Key is null ? Section : $"{Section}.{Key}";

    /// <summary>The same failure, in the environment the config calls <paramref name="section"/>.</summary>
    public EnvironmentException In(string section) => new(Key, Rule, section);

    private static (string? Key, string Rule, string Section) Parse(string message) =>
        Fielded().Match(message) is { Success: true } m
            ? (m.Groups["key"].Success ? m.Groups["key"].Value : null, m.Groups["rule"].Value, m.Groups["section"].Value)
            : (null, message, "environment");

    [System.Text.RegularExpressions.GeneratedRegex(@"\A(?<section>environment|environments\.[A-Za-z0-9._-]+?)(?:\.(?<key>[a-z_]+(?:\[\d+\])?))?: (?<rule>.*)\z", System.Text.RegularExpressions.RegexOptions.Singleline)]
    private static partial System.Text.RegularExpressions.Regex Fielded();
}

/// <summary>The image an environment's tasks start from, and its sealed init (null when the Codex image has none).</summary>
public sealed record EnvironmentImage(string Tag, string? Init);

/// <summary>
/// Turns an environment's base (an image the user names, or a Dockerfile of the repository) into the images
/// setup and tasks run in: the base with uid 1000 and the folders Codex uses (where setup runs), then, over
/// it or over its setup, the runner's Codex binary and sealed init. Each is tagged by a hash of what made it
/// (the images' ids, the layering recipe), so an unchanged environment is found and reused, a rebuilt base
/// gets a new one, and a new Codex image adds a layer without running setup again.
/// </summary>
public sealed partial class EnvironmentImages(IBoxImages images, GitCli git, HostRepository repository, string scope)
{
    /// <summary>Where the runner's images keep the Codex binary.</summary>
    public const string CodexBinary = "/usr/local/bin/codex";

    /// <summary>
    /// The base image for <paramref name="spec"/>: the named one, or the repository's Dockerfile built at the base
    /// commit. A Dockerfile's image is keyed by the repository, the lane, the Dockerfile and its whole build context
    /// (every tracked file's path, mode and blob id that <c>.dockerignore</c> leaves in), and only that context is
    /// sent: a <c>COPY</c> sees exactly what the key covers. The default lane's image is used when it exists.
    /// </summary>
    public async Task<string> BaseAsync(EnvironmentSpec spec, BaseTree tree, string scratch, CancellationToken cancellationToken)
    {
        if (spec.BaseImage is { } named)
        {
            return named;
        }

        var dockerfile = spec.Dockerfile ?? throw new EnvironmentException("environment: set base_image or dockerfile");
        if (!tree.Tracked.TryGetValue(dockerfile, out var entry) || entry.Type != "blob")
        {
            throw new EnvironmentException($"environment.dockerfile: '{dockerfile}' is not a file of the repository at {tree.Commit[..12]}; commit it, or fix the path (relative to the repository root)");
        }

        var context = await ContextAsync(dockerfile, tree, cancellationToken);
        string TagFor(string lane) => BaseTag(dockerfile, context, lane);
        var shared = TagFor(BaseTree.DefaultLane);
        if (await images.ExistsAsync(shared, cancellationToken))
        {
            return shared;
        }

        var tag = TagFor(tree.Lane);
        if (await images.ExistsAsync(tag, cancellationToken))
        {
            return tag;
        }

        Directory.CreateDirectory(scratch);
        var contextFile = Path.Combine(scratch, $"context-{Guid.NewGuid():N}.tar");
        try
        {
            try
            {
                await using var file = new FileStream(contextFile, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, useAsync: true);
                await BlobArchive.WriteAsync(file, git, repository, context, 0, 0, MaxContextBytes, contextFile + ".blobs", cancellationToken);
            }
            catch (BlobArchiveLimitException)
            {
                throw new EnvironmentException($"environment.dockerfile: the build context at {tree.Commit[..12]} is over {MaxContextBytes >> 20} MiB; leave out what the image does not need in .dockerignore, or build the image yourself and name it in environment.base_image");
            }

            await images.BuildAsync(new ImageRecipe(tag, new Dictionary<string, byte[]>(), new Dictionary<string, string>())
            {
                ContextFile = contextFile,
                DockerfilePath = dockerfile,
                Labels = ImageRecipe.RunnerLabels(ImageRoles.Environment, tag, scope),
            }, cancellationToken);
        }
        catch (ImageBuildException e)
        {
            throw new EnvironmentException($"environment.dockerfile: building {dockerfile} failed; fix the Dockerfile (docker build -f {dockerfile} . reproduces it). {e.Message}");
        }
        finally
        {
            File.Delete(contextFile);
        }

        return tag;
    }

    /// <summary>
    /// The build context <c>docker build -f DOCKERFILE .</c> in the repository root would send at the base commit:
    /// the tracked files and links <c>.dockerignore</c> does not exclude, the Dockerfile and <c>.dockerignore</c>
    /// always (the engine reads them, then drops them from the context when excluded, as Docker does).
    /// </summary>
    private async Task<IReadOnlyList<TrackedPath>> ContextAsync(string dockerfile, BaseTree tree, CancellationToken cancellationToken)
    {
        var ignore = DockerIgnore.None;
        if (tree.Tracked.TryGetValue(DockerIgnoreFile, out var entry) && entry.Type == "blob" && entry.Mode != "120000")
        {
            var text = await git.RunAsync(new GitCall(repository.Root, ["cat-file", "blob", entry.Oid]) { MaxStdoutBytes = 1 << 20 }, cancellationToken);
            ignore = DockerIgnore.Parse(Encoding.UTF8.GetString(text.Stdout));
        }

        return tree.Blobs.Where(f => f.Path == dockerfile || f.Path == DockerIgnoreFile || !ignore.Excludes(f.Path)).OrderBy(f => f.Path, StringComparer.Ordinal).ToList();
    }

    private const string DockerIgnoreFile = ".dockerignore";

    private string BaseTag(string dockerfile, IReadOnlyList<TrackedPath> context, string lane) => $"sandbox-runner/envbase:{Hash([
        "envbase-v2", $"scope={scope}", $"lane={lane}", $"dockerfile={dockerfile}", .. context.Select(f => $"file={f.Mode} {f.Oid} {f.Path}")])}";

    /// <summary>
    /// The images a run at <paramref name="tree"/>'s commit would take <paramref name="spec"/>'s tasks from, as far as
    /// the engine has them (nothing is built): the base (the image the config names, or the one built from the
    /// repository's Dockerfile), the environment image, the setup image, the Codex layer. Each after the base is
    /// found through the image under it, so the list stops at the first the engine lacks; <paramref name="stoppedAt"/>
    /// then says which.
    /// </summary>
    public async Task<IReadOnlyList<string>> ExistingTagsAsync(
        EnvironmentSpec spec, IReadOnlyList<string> allowlist, BaseTree tree, TaskImage codex, Action<string> stoppedAt, CancellationToken cancellationToken)
    {
        var tags = new List<string>();
        string baseImage;
        if (spec.BaseImage is { } named)
        {
            baseImage = named;
        }
        else
        {
            if (!tree.Tracked.TryGetValue(spec.Dockerfile!, out var entry) || entry.Type != "blob")
            {
                stoppedAt($"{spec.Dockerfile} is not a file of the repository at {tree.Commit[..12]}");
                return tags;
            }

            var context = await ContextAsync(spec.Dockerfile!, tree, cancellationToken);
            var shared = BaseTag(spec.Dockerfile!, context, BaseTree.DefaultLane);
            baseImage = await images.ExistsAsync(shared, cancellationToken) ? shared : BaseTag(spec.Dockerfile!, context, tree.Lane);
        }

        if (await images.InspectAsync(baseImage, cancellationToken) is not { } baseFacts)
        {
            stoppedAt($"{baseImage} is not in the engine yet ({(spec.BaseImage is null ? "the first run builds it" : "pull or load it")}), and the images on it are found through its id");
            return tags;
        }

        tags.Add(baseImage);
        var image = EnvironmentTag(baseImage, baseFacts.Id);
        if (await images.InspectAsync(image, cancellationToken) is not { } imageFacts)
        {
            stoppedAt($"{image} is not in the engine yet (the first run builds it)");
            return tags;
        }

        tags.Add(image);
        if (spec.Setup.Count > 0)
        {
            var inputs = new SetupInputs(scope, imageFacts.Id, spec, allowlist, SetupKey.View(tree, spec));
            if (await SetupKey.FindAsync(images, inputs, tree, cancellationToken) is not { } setup)
            {
                stoppedAt($"its setup for this commit's cache keys has not run yet ({SetupKey.OwnTag(inputs, tree)}: the next run makes it)");
                return tags;
            }

            tags.Add(image = setup);
        }

        var fromFacts = await images.InspectAsync(image, cancellationToken);
        var codexFacts = await images.InspectAsync(codex.Tag, cancellationToken);
        var layered = fromFacts is null || codexFacts is null ? null : CodexTag(image, fromFacts.Id, codex, codexFacts.Id);
        if (layered is null || !await images.ExistsAsync(layered, cancellationToken))
        {
            stoppedAt($"the Codex layer on {image} is not in the engine yet (the next run makes it)");
            return tags;
        }

        tags.Add(layered);
        return tags;
    }

    /// <summary>
    /// The environment image on <paramref name="baseImage"/>, built when missing: uid 1000 and the folders
    /// tasks use, checked for git and bash. It holds no Codex, so setup (which runs in it and is keyed by
    /// it) is not run again when the Codex image changes; <see cref="WithCodexAsync"/> adds Codex after.
    /// </summary>
    public async Task<EnvironmentImage> EnsureAsync(string baseImage, CancellationToken cancellationToken)
    {
        var baseFacts = await images.InspectAsync(baseImage, cancellationToken)
            ?? throw new EnvironmentException($"environment.base_image: '{baseImage}' is not in the Docker engine; pull it (docker pull {baseImage}), load it (docker load), or build it");
        var dockerfile = EnvironmentDockerfile(baseImage);
        var tag = EnvironmentTag(baseImage, baseFacts.Id);
        await BuildOnceAsync(tag, dockerfile, baseImage, cancellationToken);
        return new EnvironmentImage(tag, null);
    }

    /// <summary>
    /// <paramref name="image"/> (an environment image, or a setup image made from one) with the runner's
    /// Codex binary and sealed init copied in: what a run's tasks start from. Cached by both images' ids.
    /// </summary>
    public async Task<EnvironmentImage> WithCodexAsync(string image, TaskImage codex, CancellationToken cancellationToken)
    {
        var fromFacts = await images.InspectAsync(image, cancellationToken)
            ?? throw new EnvironmentException($"the environment image '{image}' is not in the Docker engine any more (removed by `image prune`?); run again to rebuild it");
        var codexFacts = await images.InspectAsync(codex.Tag, cancellationToken)
            ?? throw new EnvironmentException($"the Codex image '{codex.Tag}' is not in the Docker engine; run `sandbox-runner image build`");
        var dockerfile = CodexDockerfile(image, codex);
        var tag = CodexTag(image, fromFacts.Id, codex, codexFacts.Id);
        await BuildOnceAsync(tag, dockerfile, image, cancellationToken);
        return new EnvironmentImage(tag, codex.Init);
    }

    private const long MaxContextBytes = 512L << 20;
    private const string CheckPrefix = "sandbox-runner:";

    /// <summary>Label on a Codex layering naming the image under it, so a cache of setup images can be cleaned with what was built on them.</summary>
    public const string LayeredOn = "sandbox-runner.layered-on";

    private async Task BuildOnceAsync(string tag, string dockerfile, string under, CancellationToken cancellationToken)
    {
        if (await images.ExistsAsync(tag, cancellationToken))
        {
            return;
        }

        var labels = new Dictionary<string, string>(ImageRecipe.RunnerLabels(ImageRoles.Environment, tag, scope)) { [LayeredOn] = under };
        try
        {
            await images.BuildAsync(new ImageRecipe(tag, new Dictionary<string, byte[]> { ["Dockerfile"] = Encoding.UTF8.GetBytes(dockerfile) }, new Dictionary<string, string>())
            {
                Labels = labels,
            }, cancellationToken);
        }
        catch (ImageBuildException e)
        {
            // The check's own output line (the build's error line quotes the whole command, prefix included).
            // Docker's classic builder colours a step's stderr (ESC[91m … ESC[0m): the escapes go before the line is compared.
            var reason = e.Message.Split('\n').Select(l => AnsiColour().Replace(l, "").Trim()).FirstOrDefault(l => l.StartsWith(CheckPrefix, StringComparison.Ordinal));
            throw new EnvironmentException(reason is not null
                ? $"environment: base image '{under}' cannot run tasks: {reason[CheckPrefix.Length..].Trim()}"
                : $"environment: layering the runner's parts onto '{under}' failed. {e.Message}");
        }
    }

    /// <summary>
    /// A check that fails the build with a line naming what the base lacks, uid 1000 (the agent) and the
    /// folders it owns. The base's own entrypoint is cleared: the runner names the whole command.
    /// </summary>
    private static string EnvironmentDockerfile(string baseImage) => $$"""
        FROM {{baseImage}}
        USER root
        RUN missing=""; for tool in git bash; do command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"; done; \
            if [ -n "$missing" ]; then echo "{{CheckPrefix}} it lacks$missing (Codex runs every command through /bin/bash, and the runner needs git); install them in the base (Debian: apt-get install -y git bash) or use a base that has them" >&2; exit 1; fi; \
            grep -q '^[^:]*:[^:]*:1000:' /etc/passwd || echo 'codex:x:1000:1000:codex:/home/sandbox:/bin/bash' >> /etc/passwd; \
            grep -q '^[^:]*:[^:]*:1000:' /etc/group || echo 'codex:x:1000:' >> /etc/group; \
            mkdir -p /workspace /codex-home /home/sandbox && chown 1000:1000 /workspace /codex-home /home/sandbox
        USER 1000:1000
        WORKDIR /workspace
        ENTRYPOINT []
        CMD []

        """;

    /// <summary>Codex and the sealed init from the runner's image, checked to run there.</summary>
    private static string CodexDockerfile(string image, TaskImage codex)
    {
        var init = codex.Init is { } path ? $"COPY --from=runner {path} {path}\n" : "";
        return $$"""
            FROM {{codex.Tag}} AS runner
            FROM {{image}}
            USER root
            COPY --from=runner {{CodexBinary}} {{CodexBinary}}
            {{init}}RUN {{CodexBinary}} --version >/dev/null 2>&1 || { echo "{{CheckPrefix}} the Codex binary does not run on it (Codex is a static x86_64 Linux binary: the base must be linux/amd64)" >&2; exit 1; }
            USER 1000:1000
            WORKDIR /workspace
            ENTRYPOINT []
            CMD []

            """;
    }

    private static string EnvironmentTag(string baseImage, string baseId) => $"sandbox-runner/env:{Hash([EnvironmentDockerfile(baseImage), baseId])}";

    private static string CodexTag(string image, string imageId, TaskImage codex, string codexId) => $"sandbox-runner/envcodex:{Hash([CodexDockerfile(image, codex), imageId, codexId])}";

    [System.Text.RegularExpressions.GeneratedRegex(@"\x1b\[[0-9;]*m")]
    private static partial System.Text.RegularExpressions.Regex AnsiColour();

    internal static string Hash(IEnumerable<string> parts)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var part in parts)
        {
            sha.AppendData(Encoding.UTF8.GetBytes(part));
            sha.AppendData([0]);
        }

        return Convert.ToHexString(sha.GetHashAndReset())[..16].ToLowerInvariant();
    }
}
