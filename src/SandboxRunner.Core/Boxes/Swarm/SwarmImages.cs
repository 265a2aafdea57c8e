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
internal sealed partial class SwarmImages(IBoxImages manager, DockerClient client, SwarmOptions options, RegistryLogin login, ILogger logger) : IBoxImages
{
    private readonly ConcurrentDictionary<string, Lazy<Task<string>>> _published = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _digests = new(StringComparer.Ordinal);

    public Task<bool> ExistsAsync(string image, CancellationToken cancellationToken) => manager.ExistsAsync(image, cancellationToken);

    public Task BuildAsync(ImageRecipe recipe, CancellationToken cancellationToken) => manager.BuildAsync(recipe, cancellationToken);

    public Task<ImageFacts?> InspectAsync(string image, CancellationToken cancellationToken) => manager.InspectAsync(image, cancellationToken);

    /// <summary>The manager's tag, then the image's registry-named copies on the manager and the nodes (a run image's, at the end of its run).</summary>
    public async Task DeleteAsync(string image, CancellationToken cancellationToken)
    {
        var facts = options.Registry is null ? null : await manager.InspectAsync(image, cancellationToken);
        await manager.DeleteAsync(image, cancellationToken);
        if (facts is not null)
        {
            await ForgetPublishedAsync(image, facts.Id, cancellationToken);
        }
    }

    public Task<IReadOnlyList<EngineImage>> ListAsync(LabelSelector selector, CancellationToken cancellationToken) => manager.ListAsync(selector, cancellationToken);

    /// <summary>
    /// The manager's containers and every service (a box, wherever swarm placed it), the latter by the manager's id of
    /// the image it was published from: a box on a worker uses the image as much as one on the manager.
    /// </summary>
    public async Task<IReadOnlyList<ContainerImageUse>> UsesAsync(CancellationToken cancellationToken)
    {
        var uses = (await manager.UsesAsync(cancellationToken)).ToList();
        uses.AddRange(await ServiceUsesAsync(cancellationToken));
        return uses;
    }

    /// <summary>
    /// Refused while a service uses the image (its container may be on another node, where the manager's engine cannot
    /// see it); otherwise removed with the registry names this backend tagged it with, so the image itself goes.
    /// </summary>
    public async Task<ImageRemoval> RemoveAsync(string reference, CancellationToken cancellationToken)
    {
        if (await manager.InspectAsync(reference, cancellationToken) is not { } facts)
        {
            return await manager.RemoveAsync(reference, cancellationToken);
        }

        var services = await ServiceUsesAsync(cancellationToken);
        if (services.FirstOrDefault(u => u.ImageId == facts.Id) is { } use)
        {
            return new ImageRemoval(false, $"image {reference} is used by swarm service {use.ContainerId}; remove its run first");
        }

        await RemoveLeftTaskContainersAsync(facts.Id, services.Select(u => u.ContainerId).ToHashSet(StringComparer.Ordinal), cancellationToken);

        if (options.Registry is { } registry)
        {
            foreach (var published in _published.Keys.Where(p => p.StartsWith(registry + "/", StringComparison.Ordinal) && p.EndsWith(":" + ShortId(facts.Id), StringComparison.Ordinal)).ToList())
            {
                _published.TryRemove(published, out _);
                await manager.RemoveAsync(published, cancellationToken);
            }
        }

        var removal = await manager.RemoveAsync(reference, cancellationToken);
        if (removal.Deleted)
        {
            // Published by another process too (a commit on a node, an earlier runner): its copies on the manager and the nodes.
            await ForgetPublishedAsync(reference, facts.Id, cancellationToken);
        }

        return removal;
    }

    /// <summary>
    /// A removed service's task container stays on the manager's engine until swarm's agent gets to it: debris of a
    /// box that is gone, removed here so it does not hold the image.
    /// </summary>
    private async Task RemoveLeftTaskContainersAsync(string imageId, IReadOnlySet<string> liveServices, CancellationToken cancellationToken)
    {
        try
        {
            var containers = await client.Containers.ListContainersAsync(
                new ContainersListParameters { All = true, Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [ServiceIdLabel] = true } } },
                cancellationToken);
            foreach (var container in containers.Where(c => c.ImageID == imageId && c.Labels is { } labels && labels.TryGetValue(ServiceIdLabel, out var service) && !liveServices.Contains(service)))
            {
                try
                {
                    await client.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true }, cancellationToken);
                }
                catch (DockerContainerNotFoundException)
                {
                    // swarm's agent removed it first.
                }
            }
        }
        catch (DockerApiException e)
        {
            throw Failure($"removing the task containers of removed services that hold image {imageId}", e);
        }
    }

    private const string ServiceIdLabel = "com.docker.swarm.service.id";

    private async Task<IReadOnlyList<ContainerImageUse>> ServiceUsesAsync(CancellationToken cancellationToken)
    {
        IEnumerable<SwarmService> services;
        try
        {
            services = await client.Swarm.ListServicesAsync(new ServiceListParameters(), cancellationToken);
        }
        catch (DockerApiException e)
        {
            throw Failure("listing the swarm's services", e);
        }

        var uses = new List<ContainerImageUse>();
        foreach (var service in services)
        {
            if (service.Spec?.TaskTemplate?.ContainerSpec?.Image is { Length: > 0 } image
                && await manager.InspectAsync(image.Split('@')[0], cancellationToken) is { } facts)
            {
                uses.Add(new ContainerImageUse(service.ID, facts.Id, true));
            }
        }

        return uses;
    }

    private static string ShortId(string id) => id.Replace("sha256:", "", StringComparison.Ordinal)[..16];

    /// <summary>The image's entrypoint and command as the manager has it, which the box's gate runs after the go-ahead.</summary>
    public async Task<ServiceSpecs.ImageDefaults> DefaultsAsync(string image, CancellationToken cancellationToken)
    {
        try
        {
            var config = (await client.Images.InspectImageAsync(image, cancellationToken)).Config;
            var entrypoint = config?.Entrypoint?.ToList() ?? [];
            // An image committed from a swarm box keeps the box's gate as its entrypoint (a commit's `ENTRYPOINT []` means
            // "the container's" on 20.10): that is the runner's own gate, never the image's, and a box of it gets a gate anyway.
            if (entrypoint is ["/bin/sh", "-c", _, ServiceSpecs.GateName, ..])
            {
                entrypoint = [];
            }

            return new ServiceSpecs.ImageDefaults(entrypoint, config?.Cmd?.ToList() ?? [], config?.Labels?.TryGetValue(Labels.Role, out var role) == true ? role : null);
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
        var published = PublishedName(image, id, registry);
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
        _digests[published] = await PushFromAsync(client, image, published, CancellationToken.None);
        return published;
    }

    /// <summary>
    /// The name a service names <paramref name="image"/> by: its published name pinned to the digest the registry took it
    /// under (<c>REGISTRY/NAME:ID@sha256:…</c>), so a node pulls exactly what the runner pushed even if someone with
    /// access to the registry moved the tag since.
    /// </summary>
    public async Task<string> PinnedAsync(string image, CancellationToken cancellationToken)
    {
        var published = await PublishAsync(image, cancellationToken);
        return _digests.TryGetValue(published, out var digest) ? $"{published}@{digest}" : published;
    }

    /// <summary>Progress read as it arrives (Progress&lt;T&gt; posts to the thread pool, so a push's error could come after the push returned).</summary>
    private sealed class Reported(Action<JSONMessage> report) : IProgress<JSONMessage>
    {
        public void Report(JSONMessage value) => report(value);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "pushing {Image} for the swarm's nodes as {Published}")]
    private partial void LogPushing(string image, string published);
}
