using SandboxRunner.Configuration;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Runs;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Remote;

/// <summary>
/// The copy transport's harvest without a host checkout (issue 26): the host holds only what came back, the runner's index
/// marks the rest as the base commit has it, and the results must be those of a bind-mounted checkout, byte for byte, for
/// honest and hostile trees alike. The box gets its tree and its objects in one upload, CODEX_HOME in another.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class CopyHarvestTests(DockerFixture docker)
{
    /// <summary>Edits in folders the copy-back does not otherwise touch, ignore rules and links of the base commit, kind and mode changes.</summary>
    private static readonly string[] Edits =
    [
        "@write lib/deep/x/new.txt new\\n",
        "@run 0 rm lib/deep/x/file.txt lib/other/gone.txt",
        "@write lib/deep/x/skip.log ignored by the base commit's .gitignore\\n",
        "@run 0 mkdir -p build && echo b > build/out",
        "@run 0 printf 'same size' > lib/deep/y/keep.txt && touch -d @946684800 lib/deep/y/keep.txt",
        "@run 0 chmod -x tool.sh",
        "@run 0 ln -s ../out-link src/through",
        "@run 0 ln -s ../lnk/app.txt src/inside",
        "@run 0 rm swap && mkdir swap && echo now-a-folder > swap/file.txt",
        "@write .gitattributes * filter=evil text eol=crlf\\n",
        "@write src/crlf.txt a\\nb\\n",
        "@message done",
    ];

    [Fact]
    public async Task The_same_edits_give_the_same_files_patch_and_violations_under_copy_as_under_bind()
    {
        var bind = await RunAsync(TransportPolicy.Bind);
        var copy = await RunAsync(TransportPolicy.Copy);

        Assert.Equal(bind.Status, copy.Status);
        Assert.Equal(bind.FilesChanged.Order(StringComparer.Ordinal), copy.FilesChanged.Order(StringComparer.Ordinal));
        Assert.Equal(bind.Patch, copy.Patch);
        Assert.Equal(
            bind.Violations.Select(v => $"{v.Kind} {v.Path}").Order(StringComparer.Ordinal),
            copy.Violations.Select(v => $"{v.Kind} {v.Path}").Order(StringComparer.Ordinal));

        // What the edits mean, so the comparison cannot pass on two equally wrong results.
        Assert.Contains("lib/deep/x/new.txt", copy.FilesChanged);
        Assert.Contains("lib/deep/x/file.txt", copy.FilesChanged);
        Assert.Contains("lib/other/gone.txt", copy.FilesChanged);
        Assert.Contains("lib/deep/y/keep.txt", copy.FilesChanged);
        Assert.DoesNotContain(copy.FilesChanged, f => f.EndsWith(".log", StringComparison.Ordinal) || f.StartsWith("build/", StringComparison.Ordinal));
        Assert.Contains(copy.Violations, v => v.Path == "src/through" && v.Kind == Policy.ViolationKind.SymlinkEscape);
        Assert.Contains("old mode 100755", copy.Patch, StringComparison.Ordinal);
        Assert.Contains("swap/file.txt", copy.FilesChanged);
        Assert.DoesNotContain(copy.Violations, v => v.Path == "src/inside");
        Assert.Contains("+b\n", copy.Patch, StringComparison.Ordinal);
        Assert.DoesNotContain("\r", copy.Patch, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_copied_box_gets_its_objects_inside_its_tree_and_its_git_needs_nothing_of_this_machine()
    {
        await using var h = await RunnerHarness.CreateAsync(docker, c => c with { Transport = TransportPolicy.Copy });

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task(
            "git",
            "@run 0 test ! -e .git/objects/info/alternates && git status --porcelain | wc -l | grep -qx 0 && git cat-file -e HEAD:src/app.txt && git fsck --connectivity-only --no-dangling >/dev/null",
            "@write src/new.txt new\\n",
            "@run 0 git add -A && git -c user.name=a -c user.email=a@b commit -qm agent && git log --oneline | wc -l | grep -qx 2",
            "@message done"))).Results);

        Assert.True(result.Status == TaskStatus.Success, $"{result.Status}: {result.NotesForManager}\n{result.Logs.Stderr}");
        Assert.All(result.CommandsRun, c => Assert.Equal(0, c.ExitCode));
        Assert.Equal(["src/new.txt"], result.FilesChanged);
        // Two scratch folders, each filled by one archive call (the engine extracts a call into one volume of a read-only
        // root): the objects travel in the workspace's .git, not in a third folder named after this machine's path.
        var task = Assert.Single(h.Engine.Specs.Values, s => s.Labels.GetValueOrDefault(Boxes.Labels.Role) is null);
        Assert.Equal([Codex.CodexCommandLine.Workspace, Codex.CodexCommandLine.Home], task.Volumes);
    }

    [Fact]
    public async Task Planted_git_directories_attributes_and_record_shaped_names_run_nothing_on_the_host_and_forge_no_entry()
    {
        var marker = Path.Combine(Path.GetTempPath(), $"copy-harvest-{Guid.NewGuid():N}");
        await using var h = await RunnerHarness.CreateAsync(docker, c => c with { Transport = TransportPolicy.Copy });

        // A nested repository whose config would run a command on the host if host git read it, attributes naming a filter, a
        // name shaped like an `ls-files -s` record and one like a path of the index, and a file swapped for a link to the host.
        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task(
            "planted",
            "@write src/ok.txt fine\\n",
            $"@run 0 mkdir -p src/nested && cd src/nested && git init -q && git config core.fsmonitor 'touch {marker}' && printf '#!/bin/sh\\ntouch {marker}\\n' > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit",
            $"@run 0 printf '[filter \"evil\"]\\n\\tclean = touch {marker}\\n\\tsmudge = touch {marker}\\n' >> .git/config && printf '* filter=evil diff=evil\\n' > .gitattributes",
            "@run 0 printf x > \"src/$(printf '100644 0123456789012345678901234567890123456789 0\\tREADME.md')\"",
            "@run 0 printf y > \"$(printf 'docs/old.txt\\nREADME.md')\"",
            "@run 0 rm src/app.txt && ln -s /etc/passwd src/app.txt",
            "@message done"))).Results);

        Assert.False(File.Exists(marker), "something the agent planted ran on the host");
        Assert.NotEqual(TaskStatus.Success, result.Status);
        Assert.Contains(result.Violations, v => v.Path == "src/app.txt" && v.Kind == Policy.ViolationKind.SymlinkEscape);
        Assert.DoesNotContain("README.md", result.FilesChanged);
        Assert.DoesNotContain("docs/old.txt", result.FilesChanged);
        Assert.Contains(result.FilesChanged, f => f.StartsWith("src/100644 ", StringComparison.Ordinal));
        Assert.Contains(result.FilesChanged, f => f.StartsWith("docs/old.txt\n", StringComparison.Ordinal));
        Assert.Contains("src/ok.txt", result.FilesChanged);
        Assert.Equal("# Test repo\n", h.Repository.Git("show", $"{result.Branch}:README.md"));
    }

    private async Task<TaskResult> RunAsync(TransportPolicy transport)
    {
        await using var h = await RunnerHarness.CreateAsync(docker, c => c with { Transport = transport });
        var repo = h.Repository;
        repo.Write(".gitignore", "*.log\nbuild/\n");
        repo.Write("lib/deep/x/file.txt", "x\n");
        repo.Write("lib/deep/y/keep.txt", "keep size");
        repo.Write("lib/other/gone.txt", "gone\n");
        repo.Write("tool.sh", "#!/bin/sh\n");
        File.SetUnixFileMode(Path.Combine(repo.Path, "tool.sh"), (UnixFileMode)0b111_101_101);
        File.CreateSymbolicLink(Path.Combine(repo.Path, "lnk"), "src");
        File.CreateSymbolicLink(Path.Combine(repo.Path, "out-link"), "/etc");
        File.CreateSymbolicLink(Path.Combine(repo.Path, "swap"), "docs");
        repo.Git("add", "-A");
        repo.Git("commit", "-qm", "base for the copy harvest");
        return Assert.Single((await h.RunAsync(RunnerHarness.Task("edits", Edits))).Results);
    }
}
