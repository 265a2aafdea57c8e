namespace SandboxRunner.Boxes.Docker;

/// <summary>
/// Images made from containers and containers compared with their images: what environments are built
/// from (a set-up container committed once, a task's changes read without copying its whole tree back).
/// </summary>
internal interface ISnapshotOperations
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
