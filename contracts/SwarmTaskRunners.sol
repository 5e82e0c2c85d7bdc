// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {checkLength, decimal, revertWith} from "./RevertText.sol";

/// The part of SwarmTasks a task runner uses.
interface ITaskStore {
    function hold(string calldata task, string calldata runner) external returns (bytes32 slot,
        string memory taskType);

    function release(bytes32 slot) external;
}

/// @title Task runners: execution of one finalized task at a time by the SWOPs that listen on the runner.
/// @notice SWCI assigns a task (with N peers, all listening peers, or a target SWOP); SWOPs enroll as peers of the
///         current run with their workers (the SL/ML pairs of a RUN_SWARM task, else the SWOP itself) and report
///         each worker's progress, success or failure. The runner is COMPLETE when `peersNeeded` workers succeeded
///         (and every targeted SWOP enrolled), in ERROR as soon as one failed (with its reason); assigning a target
///         SWOP to an errored run clears the failures so the retry can still complete it. A reset returns the
///         runner to IDLE under a new run number (stale SWOP reports name the old run and are refused).
///         Liveness: a listening SWOP beats by calling `listen` again and says how long it may stay silent
///         (`staleAfter`); an enrolled SWOP silent for longer is lost, and anyone may then fail its unfinished workers
///         with `reportLostPeer` (the contract checks the rule against the block's time).
/// @dev Who may do what (SWCI, SWOP roles) is checked by the SN API, not here; every event records the sender. A
///      reset keeps the old run in storage under its run number, so nothing ever written is erased.
contract SwarmTaskRunners {
    enum RunnerState {
        IDLE,
        ASSIGNED, // a task is assigned, no peer has enrolled yet
        RUNNING, // at least one peer enrolled, not enough successes yet
        COMPLETE,
        ERROR
    }

    enum AssignMode {
        NONE,
        PEERS,
        ALL_PEERS,
        TARGET
    }

    enum WorkerStatus {
        ENROLLED,
        RUNNING,
        COMPLETE,
        FAILED
    }

    uint256 public constant MAX_FIELD_BYTES = 256;
    uint256 public constant MAX_TEXT_BYTES = 1024;
    uint256 public constant MAX_WORKERS = 64;

    struct Worker {
        string uid;
        WorkerStatus status;
        string description;
        uint64 updatedAt;
    }

    /// A SWOP taking part in one run.
    struct Peer {
        bool listed; // in the run's peer list
        bool enrolled;
        bool targeted; // named by an ASSIGN ... TARGET
        bool awaitingTarget; // targeted and not enrolled (again) since
        uint32 enrollment; // how many times it enrolled in this run
        uint32 contribution; // what its enrollment added to peersNeeded (TARGET runs)
        uint32 active;
        uint32 completed;
        uint32 failed;
        uint64 enrolledAt;
        mapping(uint32 => Worker[]) workersOf; // by enrollment
        mapping(bytes32 => uint32) workerSlot; // keccak(enrollment, uid) -> index + 1
    }

    /// One run of a task runner: everything a reset forgets.
    struct Run {
        string task;
        string taskType;
        bytes32 taskSlot; // the task's storage slot in the task store (to release it)
        bool runSwarm;
        RunnerState state;
        AssignMode mode;
        uint32 peersNeeded;
        uint32 seats; // units taken by untargeted enrollments (workers for RUN_SWARM, SWOPs otherwise)
        uint32 pendingTargets;
        uint32 enrolledPeers;
        uint32 active;
        uint32 completed;
        uint32 failed;
        string[] peers;
        mapping(bytes32 => Peer) peerOf;
        string errorPeer;
        string errorWorker;
        string errorReason;
        address assignedBy;
        uint64 assignedAt;
        uint64 startedAt;
        uint64 finishedAt;
        uint64 changedAt;
    }

    struct Listener {
        uint32 nodes;
        uint64 since;
        uint32 slot; // index + 1 in the runner's listener list
        uint64 seenAt; // its last beat (call of listen)
        uint64 staleAfter; // chain time without a beat after which it counts as lost; 0 = never
    }

    struct Runner {
        bool exists;
        uint32 run;
        address creator;
        uint64 createdAt;
        uint64 resetAt;
        string[] listeners;
        mapping(bytes32 => Listener) listenerOf;
    }

    struct RunnerView {
        bool exists;
        string name;
        uint32 run;
        RunnerState state;
        AssignMode mode;
        string task;
        string taskType;
        uint32 peersNeeded;
        uint32 enrolledPeers;
        uint32 pendingTargets;
        uint32 active;
        uint32 completed;
        uint32 failed;
        string errorPeer;
        string errorWorker;
        string errorReason;
        uint32 listeners;
        address creator;
        address assignedBy;
        uint64 createdAt;
        uint64 assignedAt;
        uint64 startedAt;
        uint64 finishedAt;
        uint64 changedAt;
        uint64 resetAt;
    }

    struct WorkerView {
        string uid;
        WorkerStatus status;
        string description;
        uint64 updatedAt;
    }

    struct PeerView {
        bool exists;
        string uid;
        bool enrolled;
        bool targeted;
        bool awaitingTarget;
        uint32 enrollment;
        uint32 active;
        uint32 completed;
        uint32 failed;
        uint64 enrolledAt;
        WorkerView[] workers;
    }

    struct ListenerView {
        string peer;
        uint32 nodes;
        uint64 since;
        uint64 seenAt;
        uint64 staleAfter;
    }

    ITaskStore public immutable tasks;

    mapping(bytes32 => Runner) private runners;
    string[] private runnerList;
    mapping(bytes32 => Run) private runs; // key: keccak(runnerKey, run)

    event TaskRunnerCreated(string runner, address indexed by);
    event PeerListening(string runner, string peer, uint32 nodes, address indexed by);
    event PeerStoppedListening(string runner, string peer, address indexed by);
    event TaskAssigned(string runner, uint32 run, string task, AssignMode mode, uint32 peersNeeded, string target,
                       address indexed by);
    event FailuresCleared(string runner, uint32 run, address indexed by);
    event PeerEnrolled(string runner, uint32 run, string peer, uint32 workers, address indexed by);
    event WorkerProgress(string runner, uint32 run, string peer, string worker, string description,
                         address indexed by);
    event WorkerSucceeded(string runner, uint32 run, string peer, string worker, string description,
                          address indexed by);
    event WorkerFailed(string runner, uint32 run, string peer, string worker, string reason, address indexed by);
    event TaskRunnerStateChanged(string runner, uint32 run, RunnerState state, uint64 at);
    event TaskRunnerReset(string runner, uint32 run, address indexed by);

    constructor(address taskStore, string memory defaultTaskRunner) {
        require(taskStore != address(0), "the task store must not be the zero address");
        tasks = ITaskStore(taskStore);
        _createRunner(defaultTaskRunner);
    }

    // =====================================================================================================
    // Task runners
    // =====================================================================================================

    function createTaskRunner(string calldata runner) external {
        _createRunner(runner);
    }

    function taskRunnerNames() external view returns (string[] memory) {
        return runnerList;
    }

    /// A SWOP announces that it listens on `runner` and can run `nodes` SL/ML pairs (its profile's nodes); called
    /// again, it is the SWOP's beat. `staleAfter`: chain time it may go without a beat before it counts as lost
    /// (0: never).
    function listen(string calldata runner, string calldata peer, uint32 nodes, uint64 staleAfter) external {
        Runner storage r = _runner(runner);
        require(bytes(peer).length > 0, "peer must not be empty");
        _checkField("peer", peer);
        bytes32 key = keccak256(bytes(peer));
        Listener storage l = r.listenerOf[key];
        bool changed = l.slot == 0 || l.nodes != nodes || l.staleAfter != staleAfter;
        if (l.slot == 0) {
            r.listeners.push(peer);
            l.slot = uint32(r.listeners.length);
            l.since = uint64(block.timestamp);
        }
        l.nodes = nodes;
        l.staleAfter = staleAfter;
        l.seenAt = uint64(block.timestamp);
        if (changed) {
            emit PeerListening(runner, peer, nodes, msg.sender);
        }
    }

    function stopListening(string calldata runner, string calldata peer) external {
        Runner storage r = _runner(runner);
        bytes32 key = keccak256(bytes(peer));
        uint32 slot = r.listenerOf[key].slot;
        if (slot == 0) revertWith("peer ", peer, " does not listen on task runner ", runner, "");
        uint256 last = r.listeners.length - 1;
        if (slot - 1 != last) {
            string memory moved = r.listeners[last];
            r.listeners[slot - 1] = moved;
            r.listenerOf[keccak256(bytes(moved))].slot = slot;
        }
        r.listeners.pop();
        delete r.listenerOf[key];
        emit PeerStoppedListening(runner, peer, msg.sender);
    }

    function assignTask(string calldata runner, string calldata task, uint32 peersNeeded) external {
        require(peersNeeded > 0, "peersNeeded must be at least 1");
        Run storage run = _start(runner, task, AssignMode.PEERS, peersNeeded);
        emit TaskAssigned(runner, runners[keccak256(bytes(runner))].run, task, AssignMode.PEERS, peersNeeded, "",
                          msg.sender);
        _settle(runner, run);
    }

    /// Assign with the minimum = every SWOP listening now (RUN_SWARM: every SL/ML pair of their profiles).
    function assignTaskToAllPeers(string calldata runner, string calldata task) external {
        Run storage run = _start(runner, task, AssignMode.ALL_PEERS, 0);
        Runner storage r = runners[keccak256(bytes(runner))];
        uint256 needed = 0;
        for (uint256 i = 0; i < r.listeners.length; i++) {
            needed += run.runSwarm ? r.listenerOf[keccak256(bytes(r.listeners[i]))].nodes : 1;
        }
        if (needed == 0) revertWith("no SWOP listens on task runner ", runner, "", "", "");
        run.peersNeeded = uint32(needed);
        emit TaskAssigned(runner, r.run, task, AssignMode.ALL_PEERS, uint32(needed), "", msg.sender);
        _settle(runner, run);
    }

    /// Run `task` on SWOP `peer`: starts an IDLE runner, or adds the peer to the runner's current run of the same
    /// task (a retry of a failed peer clears the run's failures, so it can still complete).
    function assignTaskToTarget(string calldata runner, string calldata task, string calldata peer) external {
        require(bytes(peer).length > 0, "target peer must not be empty");
        _checkField("target peer", peer);
        Runner storage r = _runner(runner);
        Run storage run = _run(r, runner);
        if (run.state == RunnerState.IDLE) {
            run = _start(runner, task, AssignMode.TARGET, 0);
        } else {
            if (keccak256(bytes(run.task)) != keccak256(bytes(task))) {
                revertWith(string.concat("task runner ", runner), " runs task ", run.task,
                    ": reset it before assigning ", task);
            }
            if (run.state == RunnerState.COMPLETE) {
                revertWith("task runner ", runner, " has completed its task: reset it first", "", "");
            }
        }
        if (run.failed > 0) {
            for (uint256 i = 0; i < run.peers.length; i++) {
                run.peerOf[keccak256(bytes(run.peers[i]))].failed = 0;
            }
            run.failed = 0;
            emit FailuresCleared(runner, r.run, msg.sender);
        }
        Peer storage p = _listPeer(run, peer);
        p.targeted = true;
        if (!p.awaitingTarget) {
            p.awaitingTarget = true;
            run.pendingTargets += 1;
        }
        emit TaskAssigned(runner, r.run, task, AssignMode.TARGET, run.peersNeeded, peer, msg.sender);
        _settle(runner, run);
    }

    /// SWOP `peer` takes part in run `runNumber` with `workers` (RUN_SWARM: the uids of the SL/ML pairs it starts;
    /// other task types: none, the SWOP itself is the one worker).
    function enroll(string calldata runner, uint32 runNumber, string calldata peer, string[] calldata workers)
        external {
        require(bytes(peer).length > 0, "peer must not be empty");
        _checkField("peer", peer);
        Run storage run = _currentRun(runner, runNumber);
        if (run.state != RunnerState.ASSIGNED && run.state != RunnerState.RUNNING) {
            revertWith("task runner ", runner, " is ", _stateName(run.state), ": peers cannot enroll");
        }
        uint32 units = _checkWorkers(run.runSwarm, workers);
        Peer storage p = run.peerOf[keccak256(bytes(peer))];
        if (p.awaitingTarget) {
            p.awaitingTarget = false;
            run.pendingTargets -= 1;
            if (p.enrolled) { // a retry: its earlier workers no longer count
                run.active -= p.active;
                run.completed -= p.completed;
                run.failed -= p.failed;
                run.peersNeeded -= p.contribution;
                run.enrolledPeers -= 1;
            }
            p.contribution = run.mode == AssignMode.TARGET ? units : 0;
            run.peersNeeded += p.contribution;
        } else {
            if (p.enrolled) revertWith("peer ", peer, " is already enrolled in task runner ", runner, "");
            if (run.mode == AssignMode.TARGET) {
                revertWith("task runner ", runner, " runs its task on targeted peers only", "", "");
            }
            if (run.seats >= run.peersNeeded) {
                revertWith("task runner ", runner, " has the ", decimal(run.peersNeeded), " peers it needs");
            }
            run.seats += units;
        }
        _listPeer(run, peer);
        p.enrolled = true;
        p.enrollment += 1;
        p.enrolledAt = uint64(block.timestamp);
        p.active = units;
        p.completed = 0;
        p.failed = 0;
        Worker[] storage list = p.workersOf[p.enrollment];
        if (workers.length == 0) {
            _addWorker(p, list, peer);
        }
        for (uint256 i = 0; i < workers.length; i++) {
            _addWorker(p, list, workers[i]);
        }
        run.active += units;
        run.enrolledPeers += 1;
        if (run.startedAt == 0) {
            run.startedAt = uint64(block.timestamp);
        }
        emit PeerEnrolled(runner, runNumber, peer, units, msg.sender);
        _settle(runner, run);
    }

    function reportProgress(string calldata runner, uint32 runNumber, string calldata peer, string calldata worker,
                            string calldata description) external {
        Run storage run = _currentRun(runner, runNumber);
        Worker storage w = _activeWorker(run, peer, worker);
        _checkText("description", description);
        w.status = WorkerStatus.RUNNING;
        w.description = description;
        w.updatedAt = uint64(block.timestamp);
        emit WorkerProgress(runner, runNumber, peer, worker, description, msg.sender);
    }

    function reportSuccess(string calldata runner, uint32 runNumber, string calldata peer, string calldata worker,
                           string calldata description) external {
        Run storage run = _currentRun(runner, runNumber);
        Worker storage w = _activeWorker(run, peer, worker);
        _checkText("description", description);
        w.status = WorkerStatus.COMPLETE;
        w.description = description;
        w.updatedAt = uint64(block.timestamp);
        Peer storage p = run.peerOf[keccak256(bytes(peer))];
        p.active -= 1;
        p.completed += 1;
        run.active -= 1;
        run.completed += 1;
        emit WorkerSucceeded(runner, runNumber, peer, worker, description, msg.sender);
        _settle(runner, run);
    }

    function reportFailure(string calldata runner, uint32 runNumber, string calldata peer, string calldata worker,
                           string calldata reason) external {
        Run storage run = _currentRun(runner, runNumber);
        Worker storage w = _activeWorker(run, peer, worker);
        _checkReason(reason);
        _failWorker(runner, runNumber, run, peer, w, reason);
        _settle(runner, run);
    }

    /// Fail every unfinished worker of `peer`, a SWOP that enrolled in run `runNumber` and then went silent for
    /// longer than its `staleAfter` (by its last call of `listen`). Anyone may report it; the rule is checked here.
    function reportLostPeer(string calldata runner, uint32 runNumber, string calldata peer, string calldata reason)
        external {
        Run storage run = _currentRun(runner, runNumber);
        if (!_lost(runners[keccak256(bytes(runner))], run, peer)) {
            revertWith("peer ", peer, " is not lost (it beats, or has no unfinished workers)", "", "");
        }
        _checkReason(reason);
        Peer storage p = run.peerOf[keccak256(bytes(peer))];
        Worker[] storage list = p.workersOf[p.enrollment];
        for (uint256 i = 0; i < list.length; i++) {
            if (list[i].status == WorkerStatus.ENROLLED || list[i].status == WorkerStatus.RUNNING) {
                _failWorker(runner, runNumber, run, peer, list[i], reason);
            }
        }
        _settle(runner, run);
    }

    /// Back to IDLE: the current run (its task, peers and their statuses) is forgotten; listeners stay.
    function resetTaskRunner(string calldata runner) external {
        Runner storage r = _runner(runner);
        Run storage run = _run(r, runner);
        if (run.state != RunnerState.IDLE) {
            tasks.release(run.taskSlot);
            r.run += 1;
            emit TaskRunnerStateChanged(runner, r.run, RunnerState.IDLE, uint64(block.timestamp));
        }
        r.resetAt = uint64(block.timestamp);
        emit TaskRunnerReset(runner, r.run, msg.sender);
    }

    function getTaskRunner(string calldata runner) external view returns (RunnerView memory v) {
        Runner storage r = runners[keccak256(bytes(runner))];
        v.name = runner;
        if (!r.exists) {
            return v;
        }
        Run storage run = _run(r, runner);
        v.exists = true;
        v.run = r.run;
        v.state = run.state;
        v.mode = run.mode;
        v.task = run.task;
        v.taskType = run.taskType;
        v.peersNeeded = run.peersNeeded;
        v.enrolledPeers = run.enrolledPeers;
        v.pendingTargets = run.pendingTargets;
        v.active = run.active;
        v.completed = run.completed;
        v.failed = run.failed;
        v.errorPeer = run.errorPeer;
        v.errorWorker = run.errorWorker;
        v.errorReason = run.errorReason;
        v.listeners = uint32(r.listeners.length);
        v.creator = r.creator;
        v.assignedBy = run.assignedBy;
        v.createdAt = r.createdAt;
        v.assignedAt = run.assignedAt;
        v.startedAt = run.startedAt;
        v.finishedAt = run.finishedAt;
        v.changedAt = run.changedAt;
        v.resetAt = r.resetAt;
    }

    /// The peers of the runner's current run (enrolled or targeted), in the order they joined.
    function getTaskRunnerPeers(string calldata runner) external view returns (string[] memory) {
        Runner storage r = _runner(runner);
        return _run(r, runner).peers;
    }

    function getPeer(string calldata runner, string calldata peer) external view returns (PeerView memory v) {
        Runner storage r = _runner(runner);
        Peer storage p = _run(r, runner).peerOf[keccak256(bytes(peer))];
        v.uid = peer;
        if (!p.listed) {
            return v;
        }
        v.exists = true;
        v.enrolled = p.enrolled;
        v.targeted = p.targeted;
        v.awaitingTarget = p.awaitingTarget;
        v.enrollment = p.enrollment;
        v.active = p.active;
        v.completed = p.completed;
        v.failed = p.failed;
        v.enrolledAt = p.enrolledAt;
        Worker[] storage list = p.workersOf[p.enrollment];
        v.workers = new WorkerView[](list.length);
        for (uint256 i = 0; i < list.length; i++) {
            Worker storage w = list[i];
            v.workers[i] = WorkerView(w.uid, w.status, w.description, w.updatedAt);
        }
    }

    function getListeners(string calldata runner) external view returns (ListenerView[] memory out) {
        Runner storage r = _runner(runner);
        out = new ListenerView[](r.listeners.length);
        for (uint256 i = 0; i < r.listeners.length; i++) {
            Listener storage l = r.listenerOf[keccak256(bytes(r.listeners[i]))];
            out[i] = ListenerView(r.listeners[i], l.nodes, l.since, l.seenAt, l.staleAfter);
        }
    }

    // =====================================================================================================
    // Internals
    // =====================================================================================================

    function _createRunner(string memory runner) private {
        require(bytes(runner).length > 0, "task runner name must not be empty");
        if (bytes(runner).length > MAX_FIELD_BYTES) {
            revertWith("task runner name is too long: at most ", decimal(MAX_FIELD_BYTES), " bytes", "", "");
        }
        Runner storage r = runners[keccak256(bytes(runner))];
        if (r.exists) revertWith("task runner ", runner, " exists", "", "");
        r.exists = true;
        r.run = 1;
        r.creator = msg.sender;
        r.createdAt = uint64(block.timestamp);
        runnerList.push(runner);
        emit TaskRunnerCreated(runner, msg.sender);
    }

    function _runner(string calldata runner) private view returns (Runner storage r) {
        r = runners[keccak256(bytes(runner))];
        if (!r.exists) revertWith("no such task runner: ", runner, "", "", "");
    }

    function _run(Runner storage r, string calldata runner) private view returns (Run storage) {
        return runs[keccak256(abi.encode(keccak256(bytes(runner)), r.run))];
    }

    function _currentRun(string calldata runner, uint32 runNumber) private view returns (Run storage) {
        Runner storage r = _runner(runner);
        if (runNumber != r.run) {
            revertWith(string.concat("run ", decimal(runNumber)), " of task runner ", runner,
                " is over: the task runner was reset since; its current run is ", decimal(r.run));
        }
        return _run(r, runner);
    }

    /// Assign `task` to the IDLE runner `runner`; returns its current run.
    function _start(string calldata runner, string calldata task, AssignMode mode, uint32 peersNeeded)
        private returns (Run storage run) {
        Runner storage r = _runner(runner);
        run = _run(r, runner);
        if (run.state != RunnerState.IDLE) {
            revertWith(string.concat("task runner ", runner), " is busy with task ", run.task,
                string.concat(" (", _stateName(run.state), ")"), ": reset it first");
        }
        (bytes32 slot, string memory taskType) = tasks.hold(task, runner);
        run.task = task;
        run.taskType = taskType;
        run.taskSlot = slot;
        run.runSwarm = keccak256(bytes(taskType)) == keccak256("RUN_SWARM");
        run.mode = mode;
        run.peersNeeded = peersNeeded;
        run.assignedBy = msg.sender;
        run.assignedAt = uint64(block.timestamp);
    }

    function _listPeer(Run storage run, string calldata peer) private returns (Peer storage p) {
        p = run.peerOf[keccak256(bytes(peer))];
        if (!p.listed) {
            p.listed = true;
            run.peers.push(peer);
        }
    }

    function _checkWorkers(bool runSwarm, string[] calldata workers) private pure returns (uint32) {
        if (!runSwarm) {
            require(workers.length == 0, "only RUN_SWARM peers name workers: the SWOP itself is the worker");
            return 1;
        }
        require(workers.length > 0, "a RUN_SWARM peer must name the SL/ML pairs it starts");
        if (workers.length > MAX_WORKERS) revertWith("a peer has at most ", decimal(MAX_WORKERS), " workers", "", "");
        return uint32(workers.length);
    }

    function _addWorker(Peer storage p, Worker[] storage list, string calldata uid) private {
        require(bytes(uid).length > 0, "worker uid must not be empty");
        _checkField("worker uid", uid);
        bytes32 slotKey = keccak256(abi.encode(p.enrollment, keccak256(bytes(uid))));
        if (p.workerSlot[slotKey] != 0) revertWith("worker ", uid, " is named twice", "", "");
        list.push();
        Worker storage w = list[list.length - 1];
        w.uid = uid;
        w.updatedAt = uint64(block.timestamp);
        p.workerSlot[slotKey] = uint32(list.length);
    }

    function _activeWorker(Run storage run, string calldata peer, string calldata worker)
        private view returns (Worker storage w) {
        Peer storage p = run.peerOf[keccak256(bytes(peer))];
        if (!p.enrolled || p.awaitingTarget) revertWith("peer ", peer, " is not enrolled", "", "");
        uint32 slot = p.workerSlot[keccak256(abi.encode(p.enrollment, keccak256(bytes(worker))))];
        if (slot == 0) revertWith("peer ", peer, " has no worker ", worker, "");
        w = p.workersOf[p.enrollment][slot - 1];
        if (w.status == WorkerStatus.COMPLETE || w.status == WorkerStatus.FAILED) {
            revertWith(string.concat("worker ", worker), " of peer ", peer, " already reported ",
                w.status == WorkerStatus.COMPLETE ? "COMPLETE" : "FAILED");
        }
    }

    function _failWorker(string calldata runner, uint32 runNumber, Run storage run, string calldata peer,
                         Worker storage w, string calldata reason) private {
        w.status = WorkerStatus.FAILED;
        w.description = reason;
        w.updatedAt = uint64(block.timestamp);
        Peer storage p = run.peerOf[keccak256(bytes(peer))];
        p.active -= 1;
        p.failed += 1;
        run.active -= 1;
        if (run.failed == 0 && run.state != RunnerState.COMPLETE) {
            run.errorPeer = peer;
            run.errorWorker = w.uid;
            run.errorReason = reason;
        }
        run.failed += 1;
        emit WorkerFailed(runner, runNumber, peer, w.uid, reason, msg.sender);
    }

    /// Enrolled with unfinished workers, listening with a `staleAfter`, and no beat for longer than that.
    function _lost(Runner storage r, Run storage run, string calldata peer) private view returns (bool) {
        bytes32 key = keccak256(bytes(peer));
        Peer storage p = run.peerOf[key];
        Listener storage l = r.listenerOf[key];
        return p.enrolled && !p.awaitingTarget && p.active > 0 && l.slot != 0 && l.staleAfter > 0
            && block.timestamp > l.seenAt + l.staleAfter;
    }

    function _checkReason(string calldata reason) private pure {
        _checkText("reason", reason);
        require(bytes(reason).length > 0, "a failure needs a reason");
    }

    /// Derive the run's state from its counters; COMPLETE stays until a reset.
    function _settle(string calldata runner, Run storage run) private {
        RunnerState old = run.state;
        if (old == RunnerState.COMPLETE) {
            return;
        }
        RunnerState next;
        if (run.failed > 0) {
            next = RunnerState.ERROR;
        } else if (run.peersNeeded > 0 && run.completed >= run.peersNeeded && run.pendingTargets == 0) {
            next = RunnerState.COMPLETE;
        } else if (run.enrolledPeers > 0) {
            next = RunnerState.RUNNING;
        } else {
            next = RunnerState.ASSIGNED;
        }
        if (next == old) {
            return;
        }
        run.state = next;
        run.changedAt = uint64(block.timestamp);
        if (next == RunnerState.COMPLETE || next == RunnerState.ERROR) {
            run.finishedAt = uint64(block.timestamp);
        }
        emit TaskRunnerStateChanged(runner, runners[keccak256(bytes(runner))].run, next, uint64(block.timestamp));
    }

    function _stateName(RunnerState state) private pure returns (string memory) {
        if (state == RunnerState.IDLE) return "IDLE";
        if (state == RunnerState.ASSIGNED) return "ASSIGNED";
        if (state == RunnerState.RUNNING) return "RUNNING";
        if (state == RunnerState.COMPLETE) return "COMPLETE";
        return "ERROR";
    }

    function _checkField(string memory what, string calldata value) private pure {
        checkLength(what, value, MAX_FIELD_BYTES);
    }

    function _checkText(string memory what, string calldata value) private pure {
        checkLength(what, value, MAX_TEXT_BYTES);
    }
}
