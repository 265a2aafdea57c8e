namespace SandboxRunner.Sandbox;

public enum PathChangeKind { Modified, Added, Deleted }

/// <summary>One path of a container's filesystem that differs from its image, as the engine's changes API reports it.</summary>
public sealed record PathChange(string Path, PathChangeKind Kind);

/// <summary>An image's id and labels.</summary>
public sealed record ImageFacts(string Id, IReadOnlyDictionary<string, string> Labels);

/// <summary>
/// What a container becomes when committed: a tag, labels, and Dockerfile-style changes to its config
/// (<c>ENTRYPOINT []</c>, <c>USER</c>...) so nothing of the committing container's own command carries over.
/// </summary>
public sealed record ImageCommit(string Tag, IReadOnlyDictionary<string, string> Labels, IReadOnlyList<string> ConfigChanges);

/// <summary>
/// Images made from containers and containers compared with their images: what environments are built
/// from (a set-up container committed once, a task's changes read without copying its whole tree back).
/// </summary>
public interface ISnapshotOperations
{
    /// <summary>The image's id and labels, or null when the engine has no such image.</summary>
    Task<ImageFacts?> InspectImageAsync(string image, CancellationToken cancellationToken);

    /// <summary>Commits a stopped container as a new image; returns its id.</summary>
    Task<string> CommitAsync(string containerId, ImageCommit commit, CancellationToken cancellationToken);

    /// <summary>
    /// The paths that differ from the container's image (every parent of a change is reported too), at most
    /// <paramref name="maxEntries"/>; null when there are more.
    /// </summary>
    Task<IReadOnlyList<PathChange>?> ChangesAsync(string containerId, int maxEntries, CancellationToken cancellationToken);

    /// <summary>
    /// Bytes the container has written to its own filesystem layer (what it changed of its image; not its
    /// volumes), or null when the engine does not say. Costs the engine a walk of that layer only.
    /// </summary>
    Task<long?> WrittenBytesAsync(string containerId, CancellationToken cancellationToken);

    /// <summary>Removes an image tag the runner made; one already gone, or still used by a container, is left without error.</summary>
    Task DeleteImageAsync(string image, CancellationToken cancellationToken);
}
