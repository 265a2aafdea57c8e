namespace SandboxRunner.Boxes.Docker;

/// <summary>
/// What sees each container of a backend from creation to removal, whichever part of the backend made it (boxes,
/// proxies, holders, probes): the integration tests' record of what a run created and left.
/// </summary>
internal interface IContainerObserver
{
    void Created(string containerId, ContainerSpec spec);

    void Started(string containerId);

    void Exited(string containerId);

    /// <summary>Before the container is removed, while it can still be inspected.</summary>
    Task RemovingAsync(string containerId, CancellationToken cancellationToken);

    void Removed(string containerId);
}
