using System.Security.Cryptography;
using System.Text;
using SandboxRunner.Git;
using SandboxRunner.Runs;
using SandboxRunner.Sandbox;

namespace SandboxRunner.Environments;

/// <summary>An environment that cannot be built or set up; its message names what failed and the fix.</summary>
public sealed class EnvironmentException(string message) : Exception(message);

/// <summary>The image an environment's tasks start from, and its sealed init (null when the Codex image has none).</summary>
public sealed record EnvironmentImage(string Tag, string? Init);

/// <summary>
/// Turns an environment's base (an image the user names, or a Dockerfile of the repository) into the image
/// tasks run in: the base with the runner's Codex binary, its sealed init, uid 1000 and the folders Codex
/// uses layered on top. Each is tagged by a hash of what made it (base image id, Codex image id, the
/// layering recipe), so an unchanged environment is found and reused, and a rebuilt base gets a new one.
/// </summary>
public sealed class EnvironmentImages(IContainerEngine engine, GitCli git, HostRepository repository, string scope)
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

        var dockerfile = spec.Dockerfile ?? throw new EnvironmentException("environment: set base_image or dockerfile");
        var keyed = await KeyedBlobsAsync(dockerfile, spec.CacheKeys, baseCommit, cancellationToken);
        var tag = $"sandbox-runner/envbase:{Hash(keyed)}";
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
            throw new EnvironmentException($"environment.dockerfile: the repository at {baseCommit[..12]} is over {MaxContextBytes >> 20} MiB, too large a build context; build the image yourself and name it in environment.base_image");
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
            throw new EnvironmentException($"environment.dockerfile: building {dockerfile} failed; fix the Dockerfile (docker build -f {dockerfile} . reproduces it). {e.Message}");
        }
        finally
        {
            File.Delete(context);
        }

        return tag;
    }

    /// <summary>The task image of an environment on <paramref name="baseImage"/>, built when missing.</summary>
    public async Task<EnvironmentImage> EnsureAsync(string baseImage, TaskImage codex, CancellationToken cancellationToken)
    {
        var recipe = await RecipeAsync(baseImage, codex, cancellationToken);
        if (!await engine.ImageExistsAsync(recipe.Tag, cancellationToken))
        {
            try
            {
                await engine.BuildImageAsync(recipe, cancellationToken);
            }
            catch (ImageBuildException e)
            {
                // The check's own line says what the base lacks; the rest of the log is context.
                // The check's own output line (the build's error line quotes the whole command, prefix included).
                var reason = e.Message.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith(CheckPrefix, StringComparison.Ordinal));
                throw new EnvironmentException(reason is not null
                    ? $"environment: base image '{baseImage}' cannot run tasks: {reason[CheckPrefix.Length..].Trim()}"
                    : $"environment: layering Codex onto base image '{baseImage}' failed. {e.Message}");
            }
        }

        return new EnvironmentImage(recipe.Tag, codex.Init);
    }

    /// <summary>The tag <see cref="EnsureAsync"/> would build or reuse, and whether it exists: for the doctor and the dry run.</summary>
    public async Task<(string Tag, bool Built)> StatusAsync(string baseImage, TaskImage codex, CancellationToken cancellationToken)
    {
        var recipe = await RecipeAsync(baseImage, codex, cancellationToken);
        return (recipe.Tag, await engine.ImageExistsAsync(recipe.Tag, cancellationToken));
    }

    private const long MaxContextBytes = 512L << 20;
    private const string CheckPrefix = "sandbox-runner:";

    private async Task<ImageRecipe> RecipeAsync(string baseImage, TaskImage codex, CancellationToken cancellationToken)
    {
        var baseFacts = await engine.InspectImageAsync(baseImage, cancellationToken)
            ?? throw new EnvironmentException($"environment.base_image: '{baseImage}' is not in the Docker engine; pull it (docker pull {baseImage}), load it (docker load), or build it");
        var codexFacts = await engine.InspectImageAsync(codex.Tag, cancellationToken)
            ?? throw new EnvironmentException($"the Codex image '{codex.Tag}' is not in the Docker engine; run `sandbox-runner image build`");
        var dockerfile = Dockerfile(baseImage, codex);
        var tag = $"sandbox-runner/env:{Hash([dockerfile, baseFacts.Id, codexFacts.Id])}";
        return new ImageRecipe(tag, new Dictionary<string, byte[]> { ["Dockerfile"] = Encoding.UTF8.GetBytes(dockerfile) }, new Dictionary<string, string>())
        {
            Labels = ImageRecipe.RunnerLabels(ImageRoles.Environment, tag, scope),
        };
    }

    /// <summary>
    /// The layering: Codex and the sealed init from the runner's image, a check that fails the build with a
    /// line naming what the base lacks, uid 1000 (the agent) and the folders it owns. The base's own
    /// entrypoint is cleared: the runner names the whole command.
    /// </summary>
    private static string Dockerfile(string baseImage, TaskImage codex)
    {
        var init = codex.Init is { } path ? $"COPY --from=runner {path} {path}\n" : "";
        return $$"""
            FROM {{codex.Tag}} AS runner
            FROM {{baseImage}}
            USER root
            COPY --from=runner {{CodexBinary}} {{CodexBinary}}
            {{init}}RUN missing=""; for tool in git bash; do command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"; done; \
                if [ -n "$missing" ]; then echo "{{CheckPrefix}} it lacks$missing (Codex runs every command through /bin/bash, and the runner needs git); install them in the base (Debian: apt-get install -y git bash) or use a base that has them" >&2; exit 1; fi; \
                {{CodexBinary}} --version >/dev/null 2>&1 || { echo "{{CheckPrefix}} the Codex binary does not run on it (Codex is a static x86_64 Linux binary: the base must be linux/amd64)" >&2; exit 1; }; \
                grep -q '^[^:]*:[^:]*:1000:' /etc/passwd || echo 'codex:x:1000:1000:codex:/home/sandbox:/bin/bash' >> /etc/passwd; \
                grep -q '^[^:]*:[^:]*:1000:' /etc/group || echo 'codex:x:1000:' >> /etc/group; \
                mkdir -p /workspace /codex-home /home/sandbox && chown 1000:1000 /workspace /codex-home /home/sandbox
            USER 1000:1000
            WORKDIR /workspace
            ENTRYPOINT []
            CMD []

            """;
    }

    /// <summary>The Dockerfile's and the cache-key files' blob ids at the base commit: what keys an image built from the repository.</summary>
    private async Task<List<string>> KeyedBlobsAsync(string dockerfile, IReadOnlyList<string> cacheKeys, string baseCommit, CancellationToken cancellationToken)
    {
        var files = await SetupKey.TrackedBlobsAsync(git, repository, baseCommit, cancellationToken);
        if (!files.TryGetValue(dockerfile, out var blob))
        {
            throw new EnvironmentException($"environment.dockerfile: '{dockerfile}' is not a file of the repository at {baseCommit[..12]}; commit it, or fix the path (relative to the repository root)");
        }

        return [$"dockerfile={dockerfile}:{blob}", .. SetupKey.Matching(files, cacheKeys)];
    }

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
