using Docker.DotNet;
using Docker.DotNet.Models;
using static SandboxRunner.Boxes.Docker.DockerErrors;

namespace SandboxRunner.Boxes.Swarm;

/// <summary>
/// Boxes committed as images on the swarm (environments' setup and run images). A commit is made where the box ran, on
/// its node's engine; the manager's engine is where the runner keeps and looks up its images (the environment cache
/// is keyed there exactly as on one engine), so a commit on a worker is pushed to the registry from that node, pulled
/// onto the manager by the digest that push returned and checked to be the very image the node made (its id) before
/// the manager tags it. Tasks then name it by content, as every image the nodes pull. Removing such an image removes
/// its registry-named copies from the manager and from every node the runner reaches.
/// </summary>
internal sealed partial class SwarmImages
{
    /// <summary>The swarm's nodes, to reach their engines for the copies of the runner's images they hold.</summary>
    internal SwarmNodes? Nodes { get; init; }

    /// <summary>
    /// Commits <paramref name="containerId"/> on <paramref name="engine"/> as <paramref name="commit"/>'s tag and makes the
    /// manager hold the same image under that tag (and under its published name, so the nodes' pull needs no second push).
    /// </summary>
    public async Task<string> CommitAsync(NodeEngine engine, bool onManager, string containerId, ImageCommit commit, CancellationToken cancellationToken)
    {
        if (options.Registry is not { } registry)
        {
            // Checked with the config (ConfigChecks); this guards a backend made without one.
            throw new InvalidOperationException(
                "registry: environments on backend swarm need a registry: a box's commit is made on the node that ran it, and the manager and the other nodes get it from there; set registry (see docs/swarm.md)");
        }

        var id = await engine.Backend.Snapshots.CommitAsync(containerId, commit, cancellationToken);
        var published = PublishedName(commit.Tag, id, registry);
        if (onManager)
        {
            return id;
        }

        var digest = await PushFromAsync(engine.Client, commit.Tag, published, cancellationToken);
        var repository = published[..published.LastIndexOf(':')];
        await PullAsync(client, $"{repository}@{digest}", cancellationToken);
        var pulled = await manager.InspectAsync($"{repository}@{digest}", cancellationToken);
        if (pulled?.Id != id)
        {
            // The registry answered the digest with other bytes, or the engines disagree on ids: never keep what was not committed.
            throw new InvalidOperationException(
                $"the registry ({registry}) gave the swarm manager image {pulled?.Id ?? "(none)"} for {published}, which node committed as {id}; check that every engine reaches the same registry under `registry`");
        }

        try
        {
            foreach (var name in new[] { commit.Tag, published })
            {
                var colon = name.LastIndexOf(':');
                await client.Images.TagImageAsync(id, new ImageTagParameters { RepositoryName = name[..colon], Tag = name[(colon + 1)..] }, cancellationToken);
            }

            // The node keeps the image under its published name only (a box placed there again needs no pull); the
            // runner's own tag is the manager's, where the cache is looked up and removed.
            await engine.Client.Images.DeleteImageAsync(commit.Tag, new ImageDeleteParameters { NoPrune = true }, cancellationToken);
        }
        catch (DockerApiException e)
        {
            throw Failure($"tagging the committed image {Short(id)} as {commit.Tag} on the swarm manager", e);
        }

        _digests[published] = digest;
        _published[published] = new Lazy<Task<string>>(Task.FromResult(published));
        return id;
    }

    /// <summary><c>REGISTRY/NAME:ID</c>: the name the nodes pull an image by, its content (the first 16 hex of its id) as the tag.</summary>
    private static string PublishedName(string image, string id, string registry)
    {
        var name = image.Split('@')[0];
        var slash = name.LastIndexOf('/');
        var colon = name.LastIndexOf(':');
        var repository = colon > slash ? name[..colon] : name;
        return $"{registry}/{repository}:{ShortId(id)}";
    }

    /// <summary>Pushes <paramref name="image"/> from <paramref name="engine"/> as <paramref name="published"/>; returns the digest the registry holds it under.</summary>
    private async Task<string> PushFromAsync(DockerClient engine, string image, string published, CancellationToken cancellationToken)
    {
        var colon = published.LastIndexOf(':');
        var repository = published[..colon];
        var auth = await login.ReadAsync(cancellationToken);
        string? error = null;
        try
        {
            await engine.Images.TagImageAsync(image, new ImageTagParameters { RepositoryName = repository, Tag = published[(colon + 1)..] }, cancellationToken);
            LogPushing(image, published);
            await engine.Images.PushImageAsync(
                repository,
                new ImagePushParameters { Tag = published[(colon + 1)..] },
                auth,
                new Reported(m => error ??= m.Error?.Message is { Length: > 0 } message ? message : null),
                cancellationToken);
            if (error is not null)
            {
                throw new InvalidOperationException(
                    $"pushing {image} to the registry as {published} failed: {error}; " +
                    (WantsLogin(error) ? LoginFix() : $"check that `registry` ({options.Registry}) names a registry every node can push to"));
            }

            var digests = (await engine.Images.InspectImageAsync(published, cancellationToken)).RepoDigests ?? [];
            return digests.FirstOrDefault(d => d.StartsWith(repository + "@", StringComparison.Ordinal)) is { } pinned
                ? pinned[(repository.Length + 1)..]
                : throw new InvalidOperationException($"pushing {image} as {published} left no digest of it in the registry ({options.Registry})");
        }
        catch (DockerApiException e)
        {
            throw Failure($"pushing {image} to the registry as {published}", e);
        }
    }

    private async Task PullAsync(DockerClient engine, string reference, CancellationToken cancellationToken)
    {
        var auth = await login.ReadAsync(cancellationToken);
        var at = reference.IndexOf('@', StringComparison.Ordinal);
        string? error = null;
        try
        {
            await engine.Images.CreateImageAsync(
                new ImagesCreateParameters { FromImage = reference[..at], Tag = reference[(at + 1)..] },
                auth,
                new Reported(m => error ??= m.Error?.Message is { Length: > 0 } message ? message : null),
                cancellationToken);
        }
        catch (DockerApiException e)
        {
            throw Failure($"pulling {reference} onto the swarm manager", e);
        }

        if (error is not null)
        {
            throw new InvalidOperationException(
                $"pulling {reference} onto the swarm manager failed: {error}; " + (WantsLogin(error) ? LoginFix() : "check that the manager reaches the registry as `registry` names it"));
        }
    }

    /// <summary>
    /// After the manager's tag <paramref name="image"/> (of <paramref name="id"/>) is gone: the image's registry names (its
    /// published tag and its digest, by which a node that ran a box of it pulled it), on the manager and on every node the
    /// runner reaches, unless the manager still holds it under another name of the same repository. A copy a container
    /// still uses stays (the engine refuses); a later removal takes it.
    /// </summary>
    private async Task ForgetPublishedAsync(string image, string id, CancellationToken cancellationToken)
    {
        if (options.Registry is not { } registry)
        {
            return;
        }

        var published = PublishedName(image, id, registry);
        var repository = published[..published.LastIndexOf(':')];
        var own = repository[(registry.Length + 1)..];
        var names = new List<string> { published };
        if (_digests.TryGetValue(published, out var known))
        {
            names.Add($"{repository}@{known}");
        }

        try
        {
            var inspected = await client.Images.InspectImageAsync(id, cancellationToken);
            if ((inspected.RepoTags ?? []).Any(t => t.StartsWith(own + ":", StringComparison.Ordinal)))
            {
                return;
            }

            names.AddRange((inspected.RepoDigests ?? []).Where(d => d.StartsWith(repository + "@", StringComparison.Ordinal)));
        }
        catch (DockerApiException)
        {
            // Gone from the manager already: its copies go too.
        }

        _published.TryRemove(published, out _);
        _digests.TryRemove(published, out _);
        names = names.Distinct(StringComparer.Ordinal).ToList();
        var engines = new List<DockerClient> { client };
        if (Nodes is not null)
        {
            var self = await Nodes.ManagerNodeIdAsync(cancellationToken);
            foreach (var node in (await Nodes.ListAsync(cancellationToken)).Where(n => n.Id != self && n.State == "ready"))
            {
                if (await Nodes.EngineAsync(node.Id, cancellationToken) is { } engine)
                {
                    engines.Add(engine.Client);
                }
            }
        }

        foreach (var engine in engines)
        {
            foreach (var name in names)
            {
                await TryUntagAsync(engine, name, cancellationToken);
            }
        }
    }

    private static async Task TryUntagAsync(DockerClient engine, string name, CancellationToken cancellationToken)
    {
        try
        {
            await engine.Images.DeleteImageAsync(name, new ImageDeleteParameters { Force = false }, cancellationToken);
        }
        catch (Exception e) when (e is DockerApiException or HttpRequestException or IOException or TimeoutException)
        {
            // Not there, used by a container, or the node does not answer: the image sweep or the next removal takes it.
        }
    }

    private static bool WantsLogin(string error) =>
        ((string[])["unauthorized", "authentication required", "no basic auth credentials", "denied"]).Any(sign => error.Contains(sign, StringComparison.OrdinalIgnoreCase));

    private string LoginFix() =>
        $"the registry wants a login: run `docker login {options.Registry}` as the user the runner runs as (it reads the login from DOCKER_CONFIG, else ~/.docker)";
}
