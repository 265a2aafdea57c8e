using System.Security.Cryptography;
using System.Text;
using SandboxRunner.Git;
using SandboxRunner.Runs;
using SandboxRunner.Sandbox;

namespace SandboxRunner.Environments;

/// <summary>
/// An environment that cannot be built or set up: the field of the config at fault (<c>environment.base_image</c>,
/// <c>environments.node.setup[1]</c>) and the rule, which says what failed and the fix. Thrown with the
/// <c>environment</c> section; whoever knows which environment it was names it with <see cref="In"/>.
/// </summary>
public sealed class EnvironmentException(string? key, string rule, string section = RunnerConfigNames.Environment)
    : Exception(key is null ? $"{section}: {rule}" : $"{section}.{key}: {rule}")
{
    /// <summary>The field inside the environment (<c>base_image</c>, <c>setup[0]</c>), or null for the environment as a whole.</summary>
    public string? Key { get; } = key;

    public string Rule { get; } = rule;

    /// <summary>The whole field: <c>environment.base_image</c>, <c>environments.node</c>.</summary>
    public string Field { get; } = key is null ? section : $"{section}.{key}";

    /// <summary>The same failure, in the environment the config calls <paramref name="section"/>.</summary>
    public EnvironmentException In(string section) => new(Key, Rule, section);
}

/// <summary>How the config names its environments.</summary>
public static class RunnerConfigNames
{
    public const string Environment = "environment";

    /// <summary>The config field of the environment a run calls <paramref name="name"/>.</summary>
    public static string SectionOf(string name) => name == Configuration.RunnerConfig.DefaultEnvironment ? Environment : $"environments.{name}";
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
public sealed partial class EnvironmentImages(IContainerEngine engine, GitCli git, HostRepository repository, string scope)
{
    /// <summary>Where the runner's images keep the Codex binary.</summary>
    public const string CodexBinary = "/usr/local/bin/codex";

    /// <summary>The base image for <paramref name="spec"/>: the named one, or the repository's Dockerfile built at <paramref name="baseCommit"/>.</summary>
    public async Task<string> BaseAsync(EnvironmentSpec spec, string baseCommit, string scratch, CancellationToken cancellationToken)
    {
        if (spec.BaseImage is { } named)
        {
            return named;
        }

        var dockerfile = spec.Dockerfile ?? throw new EnvironmentException(null, "set base_image or dockerfile");
        var files = await SetupKey.TrackedBlobsAsync(git, repository, baseCommit, cancellationToken);
        if (!files.ContainsKey(dockerfile))
        {
            throw new EnvironmentException("dockerfile", $"'{dockerfile}' is not a file of the repository at {baseCommit[..12]}; commit it, or fix the path (relative to the repository root)");
        }

        var tag = BaseTag(dockerfile, files, spec.CacheKeys);
        if (await engine.ImageExistsAsync(tag, cancellationToken))
        {
            return tag;
        }

        // The repository at the base commit is the context, as `docker build -f <dockerfile> .` in its root would see it.
        Directory.CreateDirectory(scratch);
        var context = Path.Combine(scratch, $"context-{Guid.NewGuid():N}.tar");
        try
        {
            await git.RunAsync(new GitCall(repository.Root, ["archive", "--format=tar", baseCommit])
            {
                StdoutFile = context,
                MaxStdoutBytes = MaxContextBytes,
            }, cancellationToken);
        }
        catch (GitOutputLimitException)
        {
            File.Delete(context);
            throw new EnvironmentException("dockerfile", $"the repository at {baseCommit[..12]} is over {MaxContextBytes >> 20} MiB, too large a build context; build the image yourself and name it in base_image");
        }

        try
        {
            await engine.BuildImageAsync(new ImageRecipe(tag, new Dictionary<string, byte[]>(), new Dictionary<string, string>())
            {
                ContextFile = context,
                DockerfilePath = dockerfile,
                Labels = ImageRecipe.RunnerLabels(ImageRoles.Environment, tag, scope),
            }, cancellationToken);
        }
        catch (ImageBuildException e)
        {
            throw new EnvironmentException("dockerfile", $"building {dockerfile} failed; fix the Dockerfile (docker build -f {dockerfile} . reproduces it). {e.Message}");
        }
        finally
        {
            File.Delete(context);
        }

        return tag;
    }

    /// <summary>
    /// The environment image on <paramref name="baseImage"/>, built when missing: uid 1000 and the folders
    /// tasks use, checked for git and bash. It holds no Codex, so setup (which runs in it and is keyed by
    /// it) is not run again when the Codex image changes; <see cref="WithCodexAsync"/> adds Codex after.
    /// </summary>
    public async Task<EnvironmentImage> EnsureAsync(string baseImage, CancellationToken cancellationToken)
    {
        var baseFacts = await engine.InspectImageAsync(baseImage, cancellationToken)
            ?? throw new EnvironmentException("base_image", $"'{baseImage}' is not in the Docker engine; pull it (docker pull {baseImage}), load it (docker load), or build it");
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
        var fromFacts = await engine.InspectImageAsync(image, cancellationToken)
            ?? throw new EnvironmentException(null, $"the environment image '{image}' is not in the Docker engine any more (removed by `docker rmi`?); run again to rebuild it");
        var codexFacts = await engine.InspectImageAsync(codex.Tag, cancellationToken)
            ?? throw new EnvironmentException(null, $"the Codex image '{codex.Tag}' is not in the Docker engine; run `sandbox-runner image build`");
        var tag = CodexTag(image, fromFacts.Id, codex, codexFacts.Id);
        await BuildOnceAsync(tag, CodexDockerfile(image, codex), image, cancellationToken);
        return new EnvironmentImage(tag, codex.Init);
    }

    /// <summary>
    /// The images a run at <paramref name="baseCommit"/> would take <paramref name="spec"/>'s tasks from, as far as they can be
    /// named without building anything: the base (the image the config names, when the engine has it, or the tag of
    /// the repository Dockerfile's image), the environment image, the setup image, the Codex layer. Each tag after the
    /// base hashes the id of the image under it, so the list stops at the first image the engine does not have yet;
    /// <paramref name="stoppedAt"/> then says which.
    /// </summary>
    public async Task<IReadOnlyList<string>> KnownTagsAsync(
        EnvironmentSpec spec, IReadOnlyList<string> allowlist, string baseCommit, TaskImage codex, IReadOnlyDictionary<string, string> blobs, Action<string> stoppedAt,
        CancellationToken cancellationToken)
    {
        var tags = new List<string>();
        string baseImage;
        if (spec.BaseImage is { } named)
        {
            baseImage = named;
        }
        else
        {
            if (!blobs.ContainsKey(spec.Dockerfile!))
            {
                stoppedAt($"{spec.Dockerfile} is not a file of the repository at {baseCommit[..12]}");
                return tags;
            }

            baseImage = BaseTag(spec.Dockerfile!, blobs, spec.CacheKeys);
        }

        if (await engine.InspectImageAsync(baseImage, cancellationToken) is not { } baseFacts)
        {
            stoppedAt($"{baseImage} is not in the engine yet ({(spec.BaseImage is null ? "the first run builds it" : "pull or load it")}), and the tags after it hash its id");
            if (spec.BaseImage is null)
            {
                tags.Add(baseImage);
            }

            return tags;
        }

        tags.Add(baseImage);
        var image = EnvironmentTag(baseImage, baseFacts.Id);
        tags.Add(image);
        if (spec.Setup.Count > 0)
        {
            image = SetupKey.Tag(SetupKey.For(image, spec, allowlist, SetupKey.Matching(blobs, spec.CacheKeys)));
            tags.Add(image);
        }

        var fromFacts = await engine.InspectImageAsync(image, cancellationToken);
        var codexFacts = await engine.InspectImageAsync(codex.Tag, cancellationToken);
        if (fromFacts is null || codexFacts is null)
        {
            stoppedAt($"{(fromFacts is null ? image : codex.Tag)} is not in the engine yet (the first run makes it), and the Codex layer's tag hashes its id");
            return tags;
        }

        tags.Add(CodexTag(image, fromFacts.Id, codex, codexFacts.Id));
        return tags;
    }

    private static string EnvironmentTag(string baseImage, string baseId) => $"sandbox-runner/env:{Hash([EnvironmentDockerfile(baseImage), baseId])}";

    private static string CodexTag(string image, string imageId, TaskImage codex, string codexId) => $"sandbox-runner/envcodex:{Hash([CodexDockerfile(image, codex), imageId, codexId])}";

    private const long MaxContextBytes = 512L << 20;
    private const string CheckPrefix = "sandbox-runner:";

    /// <summary>Label on a Codex layering naming the image under it, so a cache of setup images can be cleaned with what was built on them.</summary>
    public const string LayeredOn = "sandbox-runner.layered-on";

    private async Task BuildOnceAsync(string tag, string dockerfile, string under, CancellationToken cancellationToken)
    {
        if (await engine.ImageExistsAsync(tag, cancellationToken))
        {
            return;
        }

        var labels = new Dictionary<string, string>(ImageRecipe.RunnerLabels(ImageRoles.Environment, tag, scope)) { [LayeredOn] = under };
        try
        {
            await engine.BuildImageAsync(new ImageRecipe(tag, new Dictionary<string, byte[]> { ["Dockerfile"] = Encoding.UTF8.GetBytes(dockerfile) }, new Dictionary<string, string>())
            {
                Labels = labels,
            }, cancellationToken);
        }
        catch (ImageBuildException e)
        {
            // The check's own output line (the build's error line quotes the whole command, prefix included). Docker's
            // classic builder colours a step's stderr (ESC[91m … ESC[0m), so the escapes go before the line is compared.
            var reason = e.Message.Split('\n').Select(l => AnsiColour().Replace(l, "").Trim()).FirstOrDefault(l => l.StartsWith(CheckPrefix, StringComparison.Ordinal));
            throw new EnvironmentException(null, reason is not null
                ? $"base image '{under}' cannot run tasks: {reason[CheckPrefix.Length..].Trim()}"
                : $"layering the runner's parts onto '{under}' failed. {e.Message}");
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

    /// <summary>The tag of the image built from the repository's Dockerfile: its blob id and the cache-key files' at the base commit key it.</summary>
    private static string BaseTag(string dockerfile, IReadOnlyDictionary<string, string> blobs, IReadOnlyList<string> cacheKeys) =>
        $"sandbox-runner/envbase:{Hash([$"dockerfile={dockerfile}:{blobs[dockerfile]}", .. SetupKey.Matching(blobs, cacheKeys)])}";

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
