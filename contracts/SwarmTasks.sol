// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {checkLength, decimal, revertWith} from "./RevertText.sol";

/// @title The swarm's task definitions: what SWCI registers and SWOPs execute.
/// @notice A task is a named, typed header (author, prerequisite task, outcome) plus a body, the task's YAML text,
///         written in ordered chunks of at most MAX_CHUNK_BYTES, one transaction each, then finalized: frozen, with
///         the keccak-256 of the whole body recorded. `ROOTTASK` exists from the start. A task held by a task
///         runner (see SwarmTaskRunners, attached once by the deployer) cannot be deleted.
/// @dev Who may do what is checked by the SN API, not here; every event records the sender. A deleted task's data
///      stays in storage under an older generation, so nothing ever written is erased.
contract SwarmTasks {
    string public constant ROOT_TASK = "ROOTTASK";
    string public constant ROOT_TASK_TYPE = "ROOT";
    uint256 public constant MAX_FIELD_BYTES = 256;
    uint256 public constant MAX_CHUNK_BYTES = 4096;
    uint256 public constant MAX_CHUNKS = 256;
    uint256 public constant MAX_BODY_BYTES = 32768;

    struct Task {
        string name;
        string taskType;
        string author;
        string prereq;
        string outcome;
        bytes[] chunks;
        uint32 bodyLength;
        bool finalized;
        bytes32 bodyHash;
        uint32 useCount; // runs (not IDLE) that hold this task
        string heldBy; // the task runner that took it last
        address creator;
        uint64 createdAt;
        uint64 finalizedAt;
    }

    struct TaskView {
        bool exists;
        string name;
        string taskType;
        string author;
        string prereq;
        string outcome;
        bool finalized;
        bytes32 bodyHash;
        uint32 chunkCount;
        uint32 bodyLength;
        uint32 useCount;
        string heldBy;
        address creator;
        uint64 createdAt;
        uint64 finalizedAt;
    }

    address public immutable deployer;
    address public runners; // the SwarmTaskRunners contract, the only one that may hold and release tasks

    mapping(bytes32 => bool) private taskExists;
    mapping(bytes32 => uint32) private taskGeneration;
    mapping(bytes32 => Task) private tasks; // key: keccak(nameKey, generation)
    string[] private taskList;
    mapping(bytes32 => bool) private taskListed;

    event TaskCreated(string task, string taskType, string author, string prereq, string outcome,
                      address indexed by);
    event TaskBodyAppended(string task, uint32 index, uint32 length, uint32 bodyLength, address indexed by);
    event TaskFinalized(string task, bytes32 bodyHash, uint32 chunks, uint32 bodyLength, address indexed by);
    event TaskDeleted(string task, address indexed by);
    event TaskRunnersAttached(address runners);
    event TaskHeld(string task, string runner, uint32 useCount);
    event TaskReleased(string task, uint32 useCount);

    constructor() {
        deployer = msg.sender;
        bytes32 rootKey = keccak256(bytes(ROOT_TASK));
        Task storage root = _newTask(rootKey, ROOT_TASK);
        root.taskType = ROOT_TASK_TYPE;
        root.finalized = true;
        root.bodyHash = keccak256("");
        root.finalizedAt = uint64(block.timestamp);
        emit TaskCreated(ROOT_TASK, ROOT_TASK_TYPE, "", "", "", msg.sender);
        emit TaskFinalized(ROOT_TASK, root.bodyHash, 0, 0, msg.sender);
    }

    /// Once, by the deployer: the task runner contract that may hold (assign) and release (reset) tasks.
    function attachRunners(address taskRunners) external {
        require(msg.sender == deployer, "only the deployer may attach the task runners");
        require(runners == address(0), "task runners are attached already");
        require(taskRunners != address(0), "task runners must not be the zero address");
        runners = taskRunners;
        emit TaskRunnersAttached(taskRunners);
    }

    // =====================================================================================================
    // Tasks
    // =====================================================================================================

    function createTask(string calldata task, string calldata taskType, string calldata author,
                        string calldata prereq, string calldata outcome) external {
        require(bytes(task).length > 0, "task name must not be empty");
        _checkField("task name", task);
        _checkField("author", author);
        _checkField("prereq", prereq);
        _checkField("outcome", outcome);
        if (!_isTaskType(taskType)) {
            revertWith("unknown task type ", taskType,
                ": expected MAKE_USER_CONTAINER, PULL_IMAGE, MAKE_SWARM_USER_CONTENT or RUN_SWARM", "", "");
        }
        bytes32 key = keccak256(bytes(task));
        if (taskExists[key]) revertWith("task ", task, " exists", "", "");
        Task storage t = _newTask(key, task);
        t.taskType = taskType;
        t.author = author;
        t.prereq = prereq;
        t.outcome = outcome;
        emit TaskCreated(task, taskType, author, prereq, outcome, msg.sender);
    }

    /// Write body chunk `index`: the next one (index == chunk count) appends, an earlier one is replaced.
    function appendTaskBody(string calldata task, uint32 index, bytes calldata chunk) external {
        Task storage t = _task(task);
        if (t.finalized) revertWith("task ", task, " is finalized: its body cannot change", "", "");
        require(chunk.length > 0, "body chunk must not be empty");
        if (chunk.length > MAX_CHUNK_BYTES) {
            revertWith("body chunk is too long: ", decimal(chunk.length), " bytes, at most ", decimal(MAX_CHUNK_BYTES),
                "");
        }
        uint256 count = t.chunks.length;
        if (index > count) {
            revertWith("body chunk ", decimal(index), " is beyond the end: the next is ", decimal(count), "");
        }
        uint256 length = uint256(t.bodyLength) + chunk.length;
        if (index < count) {
            length -= t.chunks[index].length;
        } else {
            if (count >= MAX_CHUNKS) revertWith("a task body has at most ", decimal(MAX_CHUNKS), " chunks", "", "");
        }
        if (length > MAX_BODY_BYTES) {
            revertWith("task body would be ", decimal(length), " bytes, at most ", decimal(MAX_BODY_BYTES), "");
        }
        if (index < count) {
            t.chunks[index] = chunk;
        } else {
            t.chunks.push(chunk);
        }
        t.bodyLength = uint32(length);
        emit TaskBodyAppended(task, index, uint32(chunk.length), uint32(length), msg.sender);
    }

    function finalizeTask(string calldata task) external {
        Task storage t = _task(task);
        if (t.finalized) revertWith("task ", task, " is already finalized", "", "");
        bytes memory body = new bytes(t.bodyLength);
        uint256 offset = 0;
        uint256 count = t.chunks.length;
        for (uint256 i = 0; i < count; i++) {
            bytes memory chunk = t.chunks[i];
            uint256 n = chunk.length;
            assembly {
                mcopy(add(add(body, 32), offset), add(chunk, 32), n)
            }
            offset += n;
        }
        t.finalized = true;
        t.bodyHash = keccak256(body);
        t.finalizedAt = uint64(block.timestamp);
        emit TaskFinalized(task, t.bodyHash, uint32(count), t.bodyLength, msg.sender);
    }

    function deleteTask(string calldata task) external {
        bytes32 key = keccak256(bytes(task));
        require(key != keccak256(bytes(ROOT_TASK)), "ROOTTASK cannot be deleted");
        Task storage t = _task(task);
        if (t.useCount != 0) {
            revertWith("task ", task, " is assigned to task runner ", t.heldBy, ": reset the task runner first");
        }
        taskExists[key] = false;
        taskGeneration[key] += 1;
        emit TaskDeleted(task, msg.sender);
    }

    function taskNames() external view returns (string[] memory) {
        uint256 count = 0;
        for (uint256 i = 0; i < taskList.length; i++) {
            if (taskExists[keccak256(bytes(taskList[i]))]) {
                count++;
            }
        }
        string[] memory out = new string[](count);
        uint256 j = 0;
        for (uint256 i = 0; i < taskList.length; i++) {
            if (taskExists[keccak256(bytes(taskList[i]))]) {
                out[j++] = taskList[i];
            }
        }
        return out;
    }

    function getTask(string calldata task) external view returns (TaskView memory v) {
        bytes32 key = keccak256(bytes(task));
        if (!taskExists[key]) {
            v.name = task;
            return v;
        }
        Task storage t = _taskAt(key);
        v.exists = true;
        v.name = t.name;
        v.taskType = t.taskType;
        v.author = t.author;
        v.prereq = t.prereq;
        v.outcome = t.outcome;
        v.finalized = t.finalized;
        v.bodyHash = t.bodyHash;
        v.chunkCount = uint32(t.chunks.length);
        v.bodyLength = t.bodyLength;
        v.useCount = t.useCount;
        v.heldBy = t.heldBy;
        v.creator = t.creator;
        v.createdAt = t.createdAt;
        v.finalizedAt = t.finalizedAt;
    }

    function getTaskBodyChunk(string calldata task, uint32 index) external view returns (bytes memory) {
        Task storage t = _task(task);
        if (index >= t.chunks.length) revertWith("task ", task, " has no body chunk ", decimal(index), "");
        return t.chunks[index];
    }

    // =====================================================================================================
    // Use by task runners
    // =====================================================================================================

    /// A task runner takes the finalized `task`; returns the slot to release it with and the task's type.
    function hold(string calldata task, string calldata runner) external returns (bytes32 slot,
        string memory taskType) {
        require(msg.sender == runners, "only the task runner contract may do this");
        bytes32 key = keccak256(bytes(task));
        require(key != keccak256(bytes(ROOT_TASK)), "ROOTTASK cannot be assigned");
        Task storage t = _task(task);
        if (!t.finalized) revertWith("task ", task, " is not finalized: finalize it before assigning it", "", "");
        t.useCount += 1;
        t.heldBy = runner;
        emit TaskHeld(task, runner, t.useCount);
        return (keccak256(abi.encode(key, taskGeneration[key])), t.taskType);
    }

    function release(bytes32 slot) external {
        require(msg.sender == runners, "only the task runner contract may do this");
        Task storage t = tasks[slot];
        t.useCount -= 1;
        emit TaskReleased(t.name, t.useCount);
    }

    // =====================================================================================================
    // Internals
    // =====================================================================================================

    function _newTask(bytes32 key, string memory name) private returns (Task storage t) {
        taskExists[key] = true;
        if (!taskListed[key]) {
            taskListed[key] = true;
            taskList.push(name);
        }
        t = _taskAt(key);
        t.name = name;
        t.creator = msg.sender;
        t.createdAt = uint64(block.timestamp);
    }

    function _taskAt(bytes32 key) private view returns (Task storage) {
        return tasks[keccak256(abi.encode(key, taskGeneration[key]))];
    }

    function _task(string calldata task) private view returns (Task storage) {
        bytes32 key = keccak256(bytes(task));
        if (!taskExists[key]) revertWith("no such task: ", task, "", "", "");
        return _taskAt(key);
    }

    function _isTaskType(string calldata taskType) private pure returns (bool) {
        bytes32 h = keccak256(bytes(taskType));
        return h == keccak256("MAKE_USER_CONTAINER") || h == keccak256("PULL_IMAGE")
            || h == keccak256("MAKE_SWARM_USER_CONTENT") || h == keccak256("RUN_SWARM");
    }

    function _checkField(string memory what, string calldata value) private pure {
        checkLength(what, value, MAX_FIELD_BYTES);
    }
}
