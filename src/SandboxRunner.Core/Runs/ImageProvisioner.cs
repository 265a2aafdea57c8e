using SandboxRunner.Codex;
using SandboxRunner.Configuration;
using SandboxRunner.Boxes;
using SandboxRunner.Environments;

namespace SandboxRunner.Runs;

/// <summary>
/// The images a run needs: the task image (configured, or built from Dockerfile.codex for the Codex
/// version) and, for <c>deny</c>, the egress proxy. One build at a time per process; a finished one is reused.
/// </summary>
public sealed class ImageProvisioner(RunnerConfig config, IBoxImages images) : IDisposable
{
    /// <summary>The <see cref="InvalidInputException.Source"/> of an engine that does not answer: the machine, not the input, is at fault.</summary>
    public const string EngineSource = "docker";

    /// <summary>The <see cref="InvalidInputException.Source"/> of a task image that is missing or failed to build.</summary>
    public const string ImageSource = "task image";

    private readonly SemaphoreSlim _gate = new(1, 1);

    public string Image => config.Image ?? ImageRecipe.Codex(config.CodexVersion).Tag;

    /// <summary>The task image with its sealed init when the runner built it; a configured image runs under docker-init.</summary>
    public TaskImage TaskImage => new(Image, config.Image is null ? ImageRecipe.SealedInit : null);

    public string ProxyImage => ImageRecipe.EgressProxy().Tag;

    /// <summary>The images this config runs with: what <c>image prune</c> keeps unless told <c>--all</c>.</summary>
    public IReadOnlySet<string> Current => new HashSet<string>(StringComparer.Ordinal) { Image, ProxyImage };

    /// <summary>Builds what is missing; returns the tags built.</summary>
    public async Task<IReadOnlyList<string>> EnsureAsync(bool includeProxy, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var built = new List<string>();
            if (config.Image is null && !await images.ExistsAsync(Image, cancellationToken))
            {
                var tarball = await CodexTarball.ResolveAsync(config.CodexVersion, cancellationToken);
                await images.BuildAsync(ImageRecipe.Codex(config.CodexVersion, tarball), cancellationToken);
                built.Add(Image);
            }

            if (includeProxy && !await images.ExistsAsync(ProxyImage, cancellationToken))
            {
                await images.BuildAsync(ImageRecipe.EgressProxy(), cancellationToken);
                built.Add(ProxyImage);
            }

            return built;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// The engine answers and the images are there or can be built. A real run builds what is missing (the
    /// first run on a machine pays for it once); a dry run only checks that it could.
    /// </summary>
    public async Task CheckAsync(bool dryRun, CancellationToken cancellationToken)
    {
        bool present;
        try
        {
            present = await images.ExistsAsync(Image, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new InvalidInputException(EngineSource, "(engine)", $"Docker is not reachable ({e.Message}); start the engine (bash .ci/setup does) or set DOCKER_HOST");
        }

        if (!present && config.Image is not null)
        {
            throw new InvalidInputException(
                ImageSource, "image", $"'{Image}' is not in the Docker engine; build or load it, or remove \"image\" from {RunnerConfig.FileName} to use the image built from Dockerfile.codex");
        }

        if (dryRun)
        {
            if (!present && !CodexTarball.NpmAvailable())
            {
                throw new InvalidInputException(ImageSource, "image", $"'{Image}' is missing and cannot be built here: building it asks npm where the Codex CLI is published, and npm is not on PATH");
            }

            return;
        }

        try
        {
            await EnsureAsync(config.NetworkPolicy == NetworkPolicy.Deny, cancellationToken);
        }
        catch (Exception e) when (e is ImageBuildException or InvalidOperationException)
        {
            throw new InvalidInputException(ImageSource, "image", e.Message);
        }
    }

    public void Dispose() => _gate.Dispose();
}
