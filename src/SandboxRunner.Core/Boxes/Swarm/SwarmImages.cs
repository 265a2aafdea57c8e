using System.Collections.Concurrent;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using static SandboxRunner.Boxes.Docker.DockerErrors;

namespace SandboxRunner.Boxes.Swarm;

/// <summary>
/// The swarm's images: built, listed and removed on the manager's engine like the local backend's, and published to
/// the registry for the nodes. A published image is named by its content (the manager's image id), so a node never
/// runs a stale image under a reused tag, and each image is pushed once per process (the registry skips layers it has).
/// </summary>
internal sealed partial class SwarmImages(IBoxImages manager, DockerClient client, SwarmOptions options, ILogger logger) : IBoxImages
{
    private readonly ConcurrentDictionary<string, Lazy<Task<string>>> _published = new(StringComparer.Ordinal);

    public Task<bool> ExistsAsync(string image, CancellationToken cancellationToken) => manager.ExistsAsync(image, cancellationToken);

    public Task BuildAsync(ImageRecipe recipe, CancellationToken cancellationToken) => manager.BuildAsync(recipe, cancellationToken);

    public Task<ImageFacts?> InspectAsync(string image, CancellationToken cancellationToken) => manager.InspectAsync(image, cancellationToken);

    public Task DeleteAsync(string image, CancellationToken cancellationToken) => manager.DeleteAsync(image, cancellationToken);

    public Task<IReadOnlyList<EngineImage>> ListAsync(LabelSelector selector, CancellationToken cancellationToken) => manager.ListAsync(selector, cancellationToken);

    public Task<IReadOnlyList<ContainerImageUse>> UsesAsync(CancellationToken cancellationToken) => manager.UsesAsync(cancellationToken);

    public Task<ImageRemoval> RemoveAsync(string reference, CancellationToken cancellationToken) => manager.RemoveAsync(reference, cancellationToken);

    /// <summary>The image's entrypoint and command as the manager has it, which the box's gate runs after the go-ahead.</summary>
    public async Task<ServiceSpecs.ImageDefaults> DefaultsAsync(string image, CancellationToken cancellationToken)
    {
        try
        {
            var config = (await client.Images.InspectImageAsync(image, cancellationToken)).Config;
            return new ServiceSpecs.ImageDefaults(config?.Entrypoint?.ToList() ?? [], config?.Cmd?.ToList() ?? []);
        }
        catch (DockerApiException e)
        {
            throw Failure($"inspecting image {image} on the swarm manager (swarm boxes start from the manager's images; build or load it there)", e);
        }
    }

    /// <summary>
    /// The name the nodes pull <paramref name="image"/> by: <c>REGISTRY/NAME:ID</c>, pushed once; the image itself
    /// when no registry is configured (a swarm whose nodes all hold it).
    /// </summary>
    public async Task<string> PublishAsync(string image, CancellationToken cancellationToken)
    {
        if (options.Registry is not { } registry)
        {
            return image;
        }

        var id = (await manager.InspectAsync(image, cancellationToken))?.Id
            ?? throw new InvalidOperationException($"image {image} is not on the swarm manager; build or load it there first");
        var name = image.Split('@')[0];
        var slash = name.LastIndexOf('/');
        var colon = name.LastIndexOf(':');
        var repository = colon > slash ? name[..colon] : name;
        var published = $"{registry}/{repository}:{id.Replace("sha256:", "", StringComparison.Ordinal)[..16]}";
        var push = _published.GetOrAdd(published, p => new Lazy<Task<string>>(() => PushAsync(image, p)));
        try
        {
            return await push.Value.WaitAsync(cancellationToken);
        }
        catch (Exception) when (push.Value.IsFaulted || push.Value.IsCanceled)
        {
            // A failed push is tried again by the next box, not remembered.
            _published.TryRemove(new KeyValuePair<string, Lazy<Task<string>>>(published, push));
            throw;
        }
    }

    private async Task<string> PushAsync(string image, string published)
    {
        var colon = published.LastIndexOf(':');
        string? error = null;
        try
        {
            await client.Images.TagImageAsync(image, new ImageTagParameters { RepositoryName = published[..colon], Tag = published[(colon + 1)..] }, CancellationToken.None);
            LogPushing(image, published);
            await client.Images.PushImageAsync(
                published[..colon],
                new ImagePushParameters { Tag = published[(colon + 1)..] },
                new AuthConfig(),
                new Reported(m => error ??= m.Error?.Message is { Length: > 0 } message ? message : null),
                CancellationToken.None);
        }
        catch (DockerApiException e)
        {
            throw Failure($"pushing {image} to the registry as {published}", e);
        }

        return error is null
            ? published
            : throw new InvalidOperationException($"pushing {image} to the registry as {published} failed: {error}; check that `registry` ({options.Registry}) names a registry this engine can push to");
    }

    /// <summary>Progress read as it arrives (Progress&lt;T&gt; posts to the thread pool, so a push's error could come after the push returned).</summary>
    private sealed class Reported(Action<JSONMessage> report) : IProgress<JSONMessage>
    {
        public void Report(JSONMessage value) => report(value);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "pushing {Image} for the swarm's nodes as {Published}")]
    private partial void LogPushing(string image, string published);
}
